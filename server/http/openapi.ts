/** The OpenAPI document of jobcast's HTTP API, served at `/jobcast/openapi.json`. */
export function openApiDocument(basePath: string): Record<string, unknown> {
  const signed = [{ pusherSignature: [] }];
  const error = { $ref: '#/components/responses/Error' };
  const appId = { name: 'appId', in: 'path', required: true, schema: { type: 'string' } };
  const jobId = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } };
  const ok = (description: string, schema: Record<string, unknown> = { type: 'object' }) => ({ description, content: { 'application/json': { schema } } });
  const started = {
    type: 'object',
    properties: { jobId: { type: 'string' }, channel: { type: 'string' }, token: { type: 'string' } },
    required: ['jobId', 'channel', 'token'],
  };
  const externalOpened = {
    type: 'object',
    properties: { ...started.properties, id: { type: 'string' }, created: { type: 'boolean' } },
    required: [...started.required, 'id', 'created'],
  };
  const errors = { 400: error, 401: error, 403: error, 404: error, 413: error, 503: error };
  return {
    openapi: '3.1.0',
    info: {
      title: 'jobcast HTTP API',
      version: '1',
      description:
        'Publish events (Pusher Channels compatible), start and follow jobs, mint channel tokens. Requests under /apps/{appId} are signed the way Pusher server SDKs sign: auth_key, auth_timestamp, auth_version=1.0, body_md5, auth_signature = HMAC-SHA256(secret, "METHOD\\npath\\nsorted query").',
    },
    components: {
      securitySchemes: {
        pusherSignature: { type: 'apiKey', in: 'query', name: 'auth_signature', description: 'Pusher request signature (see info.description)' },
        channelToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'channel token from starting a job or from /tokens' },
      },
      responses: {
        Error: ok('error', {
          type: 'object',
          properties: {
            error: {
              type: 'object',
              properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
              required: ['code', 'message'],
            },
          },
        }),
      },
    },
    paths: {
      '/apps/{appId}/events': {
        post: {
          summary: 'Publish an event to one or more channels (Pusher: trigger)',
          security: signed,
          parameters: [appId],
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['name', 'data'],
                  properties: {
                    name: { type: 'string', maxLength: 200 },
                    data: { type: 'string', description: 'JSON text or plain text, at most 10 KB' },
                    channel: { type: 'string' },
                    channels: { type: 'array', items: { type: 'string' }, maxItems: 100 },
                    socket_id: { type: 'string', description: 'connection not to deliver to' },
                  },
                },
              },
            },
          },
          responses: { 200: ok('published'), ...errors },
        },
      },
      '/apps/{appId}/batch_events': {
        post: {
          summary: 'Publish up to 10 events (Pusher: triggerBatch)',
          security: signed,
          parameters: [appId],
          responses: { 200: ok('published'), ...errors },
        },
      },
      '/apps/{appId}/channels': {
        get: {
          summary: 'Occupied channels, optionally with subscription counts',
          security: signed,
          parameters: [
            appId,
            { name: 'filter_by_prefix', in: 'query', schema: { type: 'string' } },
            { name: 'info', in: 'query', schema: { type: 'string', example: 'subscription_count' } },
          ],
          responses: { 200: ok('channels'), ...errors },
        },
      },
      '/apps/{appId}/channels/{channel}': {
        get: {
          summary: 'One channel: occupied, subscription count',
          security: signed,
          parameters: [appId, { name: 'channel', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: ok('channel'), ...errors },
        },
      },
      '/apps/{appId}/tokens': {
        post: {
          summary: 'Mint a channel token for browsers',
          security: signed,
          parameters: [appId],
          responses: {
            200: ok('token', { type: 'object', properties: { token: { type: 'string' }, channels: { type: 'array', items: { type: 'string' } } } }),
            ...errors,
          },
        },
      },
      '/apps/{appId}/jobs/{name}': {
        post: {
          summary: 'Start a job by name; the JSON body is its input',
          security: signed,
          parameters: [appId, { name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 202: ok('queued', started), ...errors },
        },
      },
      '/apps/{appId}/jobs/{id}': {
        get: { summary: "A job's status", security: signed, parameters: [appId, jobId], responses: { 200: ok('status'), ...errors } },
      },
      '/apps/{appId}/jobs/{id}/cancel': {
        post: {
          summary: 'Cancel a job',
          security: signed,
          parameters: [appId, jobId],
          responses: { 202: ok('cancelling or cancelled'), 409: error, ...errors },
        },
      },
      '/apps/{appId}/external-jobs': {
        post: {
          summary: "Open the channel of another job system's job (Sidekiq jid, RQ/Celery id); idempotent by id",
          description:
            'Publishes queued the first time. Deadlines: with no report for stalledAfterSeconds the channel gets stalled, for failedAfterSeconds failed; every report restarts the clock. A replayed signed open is refused (401); send a newly signed one.',
          security: signed,
          parameters: [appId],
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['id'],
                  properties: {
                    id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
                    name: { type: 'string', maxLength: 100 },
                    attempts: { type: 'integer', minimum: 1 },
                    stalledAfterSeconds: { type: 'number', exclusiveMinimum: 0 },
                    failedAfterSeconds: { type: 'number', exclusiveMinimum: 0, description: 'longer than stalledAfterSeconds' },
                    owner: { type: 'string' },
                    ttlSeconds: { type: 'integer' },
                  },
                },
              },
            },
          },
          responses: { 201: ok('opened', externalOpened), 200: ok('open already: same channel, a fresh token', externalOpened), ...errors },
        },
      },
      '/apps/{appId}/external-jobs/{id}/events': {
        post: {
          summary: 'Report active, progress, retrying, heartbeat, or the one outcome (completed, failed)',
          description:
            'Every report carries a requestId; the same requestId sent again (also as the identical signed request) gets the first answer with duplicate: true and changes nothing. A second outcome, or any report after the outcome, is 409. html is stored once (at most maxPartialBytes, else 413) and served by GET {base}/jobs/{jobId}/partial with the channel token.',
          security: signed,
          parameters: [appId, jobId],
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['type', 'requestId'],
                  properties: {
                    type: { enum: ['active', 'progress', 'retrying', 'heartbeat', 'completed', 'failed'] },
                    requestId: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,100}$' },
                    attempt: { type: 'integer', description: 'active: this attempt; retrying: the next one' },
                    attempts: { type: 'integer' },
                    pct: { type: ['number', 'null'], minimum: 0, maximum: 100, description: 'progress; null: indeterminate' },
                    stage: { type: 'string', maxLength: 200 },
                    message: { type: 'string', maxLength: 1000 },
                    error: { type: 'string', maxLength: 500, description: 'retrying, failed' },
                    retryAt: { type: 'integer', description: 'retrying: ms since the epoch' },
                    retryInSeconds: { type: 'number', description: 'retrying, instead of retryAt' },
                    html: { type: 'string', description: 'completed: the rendered result' },
                    url: { type: 'string', description: 'completed: or a URL (a path or http(s)) the browser fetches' },
                  },
                },
              },
            },
          },
          responses: {
            200: ok('applied, or applied before (duplicate)', {
              type: 'object',
              properties: {
                jobId: { type: 'string' },
                event: { type: ['string', 'null'] },
                offset: { type: ['integer', 'null'] },
                duplicate: { type: 'boolean' },
              },
            }),
            409: error,
            ...errors,
          },
        },
      },
      '/apps/{appId}/external-jobs/{id}': {
        get: {
          summary: "An external job's status (state, progress, outcome, timestamps)",
          security: signed,
          parameters: [appId, jobId],
          responses: { 200: ok('status'), ...errors },
        },
      },
      [`${basePath}/jobs/{name}`]: {
        post: {
          summary:
            "Start a job: only job types defined with http: true, or as the router's authorizeStart allows (403 otherwise); rate-limited per client address (429)",
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 202: ok('queued', started), ...errors },
        },
      },
      [`${basePath}/jobs/{id}`]: {
        get: { summary: "A job's status", security: [{ channelToken: [] }], parameters: [jobId], responses: { 200: ok('status'), ...errors } },
      },
      [`${basePath}/jobs/{id}/cancel`]: {
        post: {
          summary: 'Cancel (token with the cancel right)',
          security: [{ channelToken: [] }],
          parameters: [jobId],
          responses: { 202: ok('cancel'), 409: error, ...errors },
        },
      },
      [`${basePath}/jobs/{id}/retry`]: {
        post: {
          summary: 'Run a failed job again (token with the retry right)',
          security: [{ channelToken: [] }],
          parameters: [jobId],
          responses: { 202: ok('queued'), 409: error, ...errors },
        },
      },
      [`${basePath}/pusher/auth`]: {
        post: {
          summary: "Pusher channel authorisation for a jobcast token (pusher-js's channelAuthorization.endpoint); private-jobcast-job-<id> is the job channel",
          security: [{ channelToken: [] }],
          requestBody: {
            content: {
              'application/x-www-form-urlencoded': {
                schema: {
                  type: 'object',
                  required: ['socket_id', 'channel_name'],
                  properties: { socket_id: { type: 'string' }, channel_name: { type: 'string' }, app_key: { type: 'string' }, token: { type: 'string' } },
                },
              },
            },
          },
          responses: { 200: ok('signed', { type: 'object', properties: { auth: { type: 'string' } }, required: ['auth'] }), ...errors },
        },
      },
      [`${basePath}/jobs/{id}/partial`]: {
        get: {
          summary: 'The rendered result (HTML)',
          security: [{ channelToken: [] }],
          parameters: [jobId],
          responses: { 200: { description: 'HTML fragment', content: { 'text/html': {} } }, 409: error, ...errors },
        },
      },
    },
  };
}
