# Reports a job to jobcast's signed HTTP API. Standard library only. Set JOBCAST_URL, JOBCAST_APP_ID,
# JOBCAST_APP_KEY, JOBCAST_APP_SECRET. A report is retried with the same requestId: applied once.
require 'net/http'
require 'openssl'
require 'json'

module Jobcast
  def self.post(path, body = {})
    json = JSON.generate(body.merge(requestId: OpenSSL::Random.random_bytes(12).unpack1('H*')))
    3.times do |attempt|
      uri = URI("#{ENV.fetch('JOBCAST_URL')}/apps/#{ENV.fetch('JOBCAST_APP_ID')}/#{path}")
      query = "auth_key=#{ENV.fetch('JOBCAST_APP_KEY')}&auth_timestamp=#{Time.now.to_i}&auth_version=1.0&body_md5=#{OpenSSL::Digest::MD5.hexdigest(json)}"
      uri.query = "#{query}&auth_signature=#{OpenSSL::HMAC.hexdigest('SHA256', ENV.fetch('JOBCAST_APP_SECRET'), "POST\n#{uri.path}\n#{query}")}"
      res = Net::HTTP.post(uri, json, 'Content-Type' => 'application/json') rescue (raise if attempt == 2)
      return JSON.parse(res.body) if res.is_a?(Net::HTTPSuccess)
      raise "jobcast: HTTP #{res.code} #{res.body}" if res && (res.code.to_i < 500 || attempt == 2)
      sleep 1
    end
  end
end
