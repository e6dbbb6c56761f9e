"""Reports a job to jobcast's signed HTTP API. Standard library only. Set JOBCAST_URL, JOBCAST_APP_ID,
JOBCAST_APP_KEY, JOBCAST_APP_SECRET. A report is retried with the same requestId: applied once."""
import hashlib, hmac, json, os, time, urllib.error, urllib.parse, urllib.request

def post(path, body=None):
    data = json.dumps({**(body or {}), "requestId": os.urandom(12).hex()}).encode()
    url = f"{os.environ['JOBCAST_URL']}/apps/{os.environ['JOBCAST_APP_ID']}/{path}"
    for attempt in range(3):
        query = f"auth_key={os.environ['JOBCAST_APP_KEY']}&auth_timestamp={int(time.time())}&auth_version=1.0&body_md5={hashlib.md5(data).hexdigest()}"
        signed = f"POST\n{urllib.parse.urlsplit(url).path}\n{query}".encode()
        query += "&auth_signature=" + hmac.new(os.environ["JOBCAST_APP_SECRET"].encode(), signed, hashlib.sha256).hexdigest()
        try:
            with urllib.request.urlopen(urllib.request.Request(f"{url}?{query}", data, {"Content-Type": "application/json"}), timeout=10) as res:
                return json.load(res)
        except urllib.error.HTTPError as error:
            if error.code < 500 or attempt == 2:
                raise RuntimeError(f"jobcast: HTTP {error.code} {error.read().decode()}") from None
        except OSError:
            if attempt == 2:
                raise
        time.sleep(1)
