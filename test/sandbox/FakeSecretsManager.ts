import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { listen, readBody } from "./FakeHttp.ts"

/**
 * A Secrets Manager endpoint speaking the AWS JSON 1.1 protocol (`X-Amz-Target: secretsmanager.GetSecretValue`),
 * enough for `@aws-sdk/client-secrets-manager` pointed at it with `endpoint`. Secrets are found by name or ARN;
 * only the current version exists. SigV4 signatures are not verified, only required.
 */
export interface FakeSecretsManagerOptions {
  readonly port?: number
  readonly region?: string
  /** Secret name → its SecretString. */
  readonly secrets?: Readonly<Record<string, string>>
}

export interface FakeSecretsManager {
  readonly url: string
  readonly close: () => Promise<void>
  readonly putSecret: (name: string, secretString: string) => void
  readonly arnOf: (name: string) => string
  /** Requests received, in order: operation and SecretId. */
  readonly calls: () => ReadonlyArray<{ readonly operation: string; readonly secretId: unknown }>
}

const account = "111122223333"

class ServiceError extends Error {
  readonly type: string
  readonly status: number
  constructor(type: string, message: string, status = 400) {
    super(message)
    this.type = type
    this.status = status
  }
}

interface Secret {
  readonly name: string
  readonly arn: string
  readonly versionId: string
  readonly secretString: string
  readonly created: number
}

export const startFakeSecretsManager = async (options: FakeSecretsManagerOptions = {}): Promise<FakeSecretsManager> => {
  const region = options.region ?? "us-east-1"
  const secrets = new Map<string, Secret>()
  const received: Array<{ operation: string; secretId: unknown }> = []
  // Real ARNs end in a random 6-character suffix.
  const arnOf = (name: string) =>
    secrets.get(name)?.arn ??
    `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${randomUUID().replace(/-/g, "").slice(0, 6)}`
  const putSecret = (name: string, secretString: string) => {
    secrets.set(name, {
      name,
      arn: arnOf(name),
      versionId: randomUUID(),
      secretString,
      created: Date.now() / 1000
    })
  }
  for (const [name, value] of Object.entries(options.secrets ?? {})) putSecret(name, value)

  const find = (secretId: unknown): Secret => {
    if (typeof secretId !== "string" || secretId === "")
      throw new ServiceError(
        "ValidationException",
        "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null"
      )
    const secret = secrets.get(secretId) ?? [...secrets.values()].find((s) => s.arn === secretId)
    if (secret === undefined)
      throw new ServiceError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
    return secret
  }

  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    GetSecretValue: (body) => {
      const secret = find(body.SecretId)
      if (body.VersionId !== undefined && body.VersionId !== secret.versionId)
        throw new ServiceError(
          "ResourceNotFoundException",
          "Secrets Manager can't find the specified secret value for VersionId"
        )
      if (body.VersionStage !== undefined && body.VersionStage !== "AWSCURRENT")
        throw new ServiceError(
          "ResourceNotFoundException",
          "Secrets Manager can't find the specified secret value for staging label"
        )
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: secret.versionId,
        SecretString: secret.secretString,
        VersionStages: ["AWSCURRENT"],
        CreatedDate: secret.created
      }
    }
  }

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body)
    res.writeHead(status, {
      "Content-Type": "application/x-amz-json-1.1",
      "Content-Length": Buffer.byteLength(text),
      "x-amzn-RequestId": randomUUID()
    })
    res.end(text)
  }

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const target = req.headers["x-amz-target"]
    const operation = typeof target === "string" && target.startsWith("secretsmanager.") ? target.slice(15) : undefined
    let body: Record<string, unknown> = {}
    try {
      if (req.method !== "POST" || req.url !== "/")
        throw new ServiceError("UnknownOperationException", "", req.method === "POST" ? 404 : 405)
      if (!(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 "))
        throw new ServiceError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
      if (!String(req.headers["content-type"] ?? "").startsWith("application/x-amz-json-1.1"))
        throw new ServiceError("SerializationException", "Content type must be application/x-amz-json-1.1")
      try {
        const parsed: unknown = raw === "" ? {} : JSON.parse(raw)
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error()
        body = parsed as Record<string, unknown>
      } catch {
        throw new ServiceError("SerializationException", "Malformed JSON body")
      }
      received.push({ operation: operation ?? String(target), secretId: body.SecretId })
      const run = operation === undefined ? undefined : operations[operation]
      if (run === undefined) throw new ServiceError("UnknownOperationException", "")
      send(res, 200, run(body))
    } catch (error) {
      const e = error instanceof ServiceError ? error : new ServiceError("InternalServiceError", "", 500)
      send(res, e.status, e.message === "" ? { __type: e.type } : { __type: e.type, message: e.message })
    }
  }

  const server = createServer((req, res) => {
    void readBody(req).then(
      (raw) => handle(req, res, raw),
      () => undefined
    )
  })
  const { url, close } = await listen(server, options.port)
  return { url, close, putSecret, arnOf, calls: () => [...received] }
}
