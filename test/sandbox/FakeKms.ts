import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { dirname } from "node:path"
import { listen, readBody } from "./FakeHttp.ts"

/**
 * A KMS-compatible endpoint speaking the AWS JSON 1.1 protocol, enough for
 * `@aws-sdk/client-kms` pointed at it with `endpoint`. Keys are AES-256-GCM
 * internally; the ciphertext blob names its key, so Decrypt needs no KeyId,
 * as with real KMS. SigV4 signatures are not verified, only required.
 */
export interface FakeKmsOptions {
  readonly port?: number
  /** Key ids that exist from the start. */
  readonly keys?: ReadonlyArray<string>
  /** Unknown plain key ids become new keys on first use (default true); aliases never do. */
  readonly createKeysOnDemand?: boolean
  /** Aliases that exist from the start, e.g. { "alias/app": "key-1" } (the key is created). */
  readonly aliases?: Readonly<Record<string, string>>
  readonly region?: string
  /**
   * Keeps key material and aliases in this JSON file (mode 0600): read at start, rewritten when a key or alias is
   * created, so a restarted fake still opens what it sealed before. Without it keys live only in memory.
   */
  readonly keyFile?: string
}

export interface FakeKms {
  readonly url: string
  readonly close: () => Promise<void>
  /** Creates a key (random id unless given) and returns its id. */
  readonly createKey: (id?: string) => string
  readonly createAlias: (alias: string, keyId: string) => void
  readonly keyArn: (keyId: string, region?: string) => string
  /** Unavailable: every request answers 500 KMSInternalException; "drop" closes connections instead. */
  readonly setUnavailable: (mode: boolean | "drop") => void
  /** Operations received, in order (e.g. "GenerateDataKey"). */
  readonly calls: () => ReadonlyArray<string>
}

const account = "111122223333"
const blobVersion = 1

class KmsError extends Error {
  readonly type: string
  readonly status: number
  constructor(type: string, message: string, status = 400) {
    super(message)
    this.type = type
    this.status = status
  }
}

/** The key file's shape. */
interface SavedKeys {
  readonly keys: ReadonlyArray<{ readonly id: string; readonly material: string; readonly created: number }>
  readonly aliases: Readonly<Record<string, string>>
}

interface MasterKey {
  readonly id: string
  readonly material: Buffer
  readonly created: number
}

const canonicalContext = (context: unknown): Buffer => {
  if (context === undefined || context === null) return Buffer.alloc(0)
  if (typeof context !== "object") throw new KmsError("ValidationException", "EncryptionContext must be a map")
  const entries = Object.entries(context as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return Buffer.from(JSON.stringify(entries), "utf8")
}

const base64Field = (body: Record<string, unknown>, field: string): Buffer => {
  const value = body[field]
  if (value === undefined || value === null)
    throw new KmsError(
      "ValidationException",
      `1 validation error detected: Value null at '${field[0]?.toLowerCase()}${field.slice(1)}' failed to satisfy constraint: Member must not be null`
    )
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
    throw new KmsError("SerializationException", `Invalid base64 in ${field}`)
  return Buffer.from(value, "base64")
}

export const startFakeKms = async (options: FakeKmsOptions = {}): Promise<FakeKms> => {
  const keys = new Map<string, MasterKey>()
  const aliases = new Map<string, string>()
  const received: Array<string> = []
  const onDemand = options.createKeysOnDemand ?? true
  let unavailable: boolean | "drop" = false

  const keyFile = options.keyFile
  if (keyFile !== undefined && existsSync(keyFile)) {
    const saved = JSON.parse(readFileSync(keyFile, "utf8")) as SavedKeys
    for (const key of saved.keys)
      keys.set(key.id, { id: key.id, material: Buffer.from(key.material, "base64"), created: key.created })
    for (const [alias, keyId] of Object.entries(saved.aliases)) aliases.set(alias, keyId)
  }
  const save = () => {
    if (keyFile === undefined) return
    const saved: SavedKeys = {
      keys: [...keys.values()].map((k) => ({ id: k.id, material: k.material.toString("base64"), created: k.created })),
      aliases: Object.fromEntries(aliases)
    }
    mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 })
    const temporary = `${keyFile}.${process.pid}.tmp`
    writeFileSync(temporary, JSON.stringify(saved, null, 2), { mode: 0o600 })
    renameSync(temporary, keyFile)
  }

  const createKey = (id: string = randomUUID()): string => {
    if (!keys.has(id)) {
      keys.set(id, { id, material: randomBytes(32), created: Math.floor(Date.now() / 1000) })
      save()
    }
    return id
  }
  const createAlias = (alias: string, keyId: string) => {
    createKey(keyId)
    aliases.set(alias.startsWith("alias/") ? alias : `alias/${alias}`, keyId)
    save()
  }
  for (const id of options.keys ?? []) createKey(id)
  for (const [alias, keyId] of Object.entries(options.aliases ?? {})) createAlias(alias, keyId)

  const keyArn = (id: string, region = options.region ?? "us-east-1") => `arn:aws:kms:${region}:${account}:key/${id}`

  const notFound = (keyId: string, region: string) =>
    new KmsError(
      "NotFoundException",
      keyId.includes("alias/")
        ? `Alias ${keyId.startsWith("arn:") ? keyId : `arn:aws:kms:${region}:${account}:${keyId}`} is not found.`
        : `Key '${keyId.startsWith("arn:") ? keyId : keyArn(keyId, region)}' does not exist`
    )

  const resolve = (keyId: unknown, region: string, field = "keyId"): MasterKey => {
    if (typeof keyId !== "string" || keyId === "")
      throw new KmsError(
        "ValidationException",
        `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`
      )
    const arn = /^arn:aws:kms:[^:]*:[^:]*:(key|alias)\/(.+)$/.exec(keyId)
    const [kind, name] = arn
      ? [arn[1], arn[2]]
      : keyId.startsWith("alias/")
        ? ["alias", keyId.slice(6)]
        : ["key", keyId]
    const id = kind === "alias" ? aliases.get(`alias/${name}`) : name
    if (id === undefined) throw notFound(keyId, region)
    const key = keys.get(id) ?? (onDemand && kind === "key" ? keys.get(createKey(id)) : undefined)
    if (key === undefined) throw notFound(keyId, region)
    return key
  }

  const seal = (key: MasterKey, plaintext: Buffer, context: Buffer): Buffer => {
    const iv = randomBytes(12)
    const cipher = createCipheriv("aes-256-gcm", key.material, iv)
    cipher.setAAD(Buffer.concat([Buffer.from(key.id, "utf8"), context]))
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
    const id = Buffer.from(key.id, "utf8")
    const header = Buffer.alloc(3)
    header.writeUInt8(blobVersion, 0)
    header.writeUInt16BE(id.length, 1)
    return Buffer.concat([header, id, iv, sealed])
  }

  const unseal = (blob: Buffer, context: Buffer, expectedKeyId: unknown, region: string) => {
    if (blob.length < 3 + 12 + 16 || blob.readUInt8(0) !== blobVersion)
      throw new KmsError("InvalidCiphertextException", "")
    const idLength = blob.readUInt16BE(1)
    if (blob.length < 3 + idLength + 12 + 16) throw new KmsError("InvalidCiphertextException", "")
    const id = blob.subarray(3, 3 + idLength).toString("utf8")
    const key = keys.get(id)
    if (key === undefined) throw new KmsError("InvalidCiphertextException", "")
    if (expectedKeyId !== undefined && expectedKeyId !== null && resolve(expectedKeyId, region).id !== key.id)
      throw new KmsError(
        "IncorrectKeyException",
        "The key ID in the request does not identify a CMK that can perform this operation."
      )
    const iv = blob.subarray(3 + idLength, 3 + idLength + 12)
    const sealed = blob.subarray(3 + idLength + 12)
    try {
      const decipher = createDecipheriv("aes-256-gcm", key.material, iv)
      decipher.setAAD(Buffer.concat([Buffer.from(key.id, "utf8"), context]))
      decipher.setAuthTag(sealed.subarray(sealed.length - 16))
      return {
        key,
        plaintext: Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()])
      }
    } catch {
      throw new KmsError("InvalidCiphertextException", "")
    }
  }

  const operations: Record<string, (body: Record<string, unknown>, region: string) => unknown> = {
    GenerateDataKey: (body, region) => {
      const key = resolve(body.KeyId, region)
      const size =
        body.KeySpec === "AES_256"
          ? 32
          : body.KeySpec === "AES_128"
            ? 16
            : typeof body.NumberOfBytes === "number"
              ? body.NumberOfBytes
              : undefined
      if (body.KeySpec !== undefined && body.NumberOfBytes !== undefined)
        throw new KmsError("ValidationException", "Please specify either number of bytes or key spec.")
      if (size === undefined || !Number.isInteger(size) || size < 1 || size > 1024)
        throw new KmsError("ValidationException", "Please specify either number of bytes or key spec.")
      const plaintext = randomBytes(size)
      const blob = seal(key, plaintext, canonicalContext(body.EncryptionContext))
      return {
        CiphertextBlob: blob.toString("base64"),
        Plaintext: plaintext.toString("base64"),
        KeyId: keyArn(key.id, region)
      }
    },
    Encrypt: (body, region) => {
      const key = resolve(body.KeyId, region)
      const plaintext = base64Field(body, "Plaintext")
      if (plaintext.length < 1 || plaintext.length > 4096)
        throw new KmsError(
          "ValidationException",
          "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"
        )
      return {
        CiphertextBlob: seal(key, plaintext, canonicalContext(body.EncryptionContext)).toString("base64"),
        KeyId: keyArn(key.id, region),
        EncryptionAlgorithm: "SYMMETRIC_DEFAULT"
      }
    },
    Decrypt: (body, region) => {
      const blob = base64Field(body, "CiphertextBlob")
      const { key, plaintext } = unseal(blob, canonicalContext(body.EncryptionContext), body.KeyId, region)
      return {
        KeyId: keyArn(key.id, region),
        Plaintext: plaintext.toString("base64"),
        EncryptionAlgorithm: "SYMMETRIC_DEFAULT"
      }
    },
    ReEncrypt: (body, region) => {
      const blob = base64Field(body, "CiphertextBlob")
      const destination = resolve(body.DestinationKeyId, region, "destinationKeyId")
      const source = unseal(blob, canonicalContext(body.SourceEncryptionContext), body.SourceKeyId, region)
      const next = seal(destination, source.plaintext, canonicalContext(body.DestinationEncryptionContext))
      source.plaintext.fill(0)
      return {
        CiphertextBlob: next.toString("base64"),
        SourceKeyId: keyArn(source.key.id, region),
        KeyId: keyArn(destination.id, region),
        SourceEncryptionAlgorithm: "SYMMETRIC_DEFAULT",
        DestinationEncryptionAlgorithm: "SYMMETRIC_DEFAULT"
      }
    },
    DescribeKey: (body, region) => {
      const key = resolve(body.KeyId, region)
      return {
        KeyMetadata: {
          AWSAccountId: account,
          KeyId: key.id,
          Arn: keyArn(key.id, region),
          CreationDate: key.created,
          Enabled: true,
          Description: "",
          KeyUsage: "ENCRYPT_DECRYPT",
          KeyState: "Enabled",
          Origin: "AWS_KMS",
          KeyManager: "CUSTOMER",
          CustomerMasterKeySpec: "SYMMETRIC_DEFAULT",
          KeySpec: "SYMMETRIC_DEFAULT",
          EncryptionAlgorithms: ["SYMMETRIC_DEFAULT"],
          MultiRegion: false
        }
      }
    }
  }

  const send = (res: ServerResponse, status: number, body: unknown, error?: string) => {
    const text = JSON.stringify(body)
    res.writeHead(status, {
      "Content-Type": "application/x-amz-json-1.1",
      "Content-Length": Buffer.byteLength(text),
      "x-amzn-RequestId": randomUUID(),
      ...(error ? { "x-amzn-ErrorType": error } : {})
    })
    res.end(text)
  }

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    if (unavailable === "drop") {
      req.socket.destroy()
      return
    }
    if (unavailable) return send(res, 500, { __type: "KMSInternalException", message: "" }, "KMSInternalException")
    const target = req.headers["x-amz-target"]
    const operation = typeof target === "string" && target.startsWith("TrentService.") ? target.slice(13) : undefined
    received.push(operation ?? String(target))
    try {
      if (req.method !== "POST" || req.url !== "/")
        throw new KmsError("UnknownOperationException", "", req.method === "POST" ? 404 : 405)
      const authorization = req.headers.authorization ?? ""
      if (!authorization.startsWith("AWS4-HMAC-SHA256 "))
        throw new KmsError("MissingAuthenticationTokenException", "Missing Authentication Token")
      const region = /Credential=[^/]+\/\d{8}\/([^/]+)\/kms\//.exec(authorization)?.[1] ?? options.region ?? "us-east-1"
      const run = operation === undefined ? undefined : operations[operation]
      if (run === undefined) throw new KmsError("UnknownOperationException", "")
      if (!String(req.headers["content-type"] ?? "").startsWith("application/x-amz-json-1.1"))
        throw new KmsError("SerializationException", "Content type must be application/x-amz-json-1.1")
      let body: unknown
      try {
        body = raw === "" ? {} : JSON.parse(raw)
      } catch {
        throw new KmsError("SerializationException", "Malformed JSON body")
      }
      if (typeof body !== "object" || body === null || Array.isArray(body))
        throw new KmsError("SerializationException", "Expected a JSON object")
      send(res, 200, run(body as Record<string, unknown>, region))
    } catch (error) {
      const e = error instanceof KmsError ? error : new KmsError("KMSInternalException", "", 500)
      send(res, e.status, e.message === "" ? { __type: e.type } : { __type: e.type, message: e.message }, e.type)
    }
  }

  const server = createServer((req, res) => {
    // A request that breaks off while its body is read has no one left to answer.
    void readBody(req).then(
      (raw) => handle(req, res, raw),
      () => undefined
    )
  })
  const { url, close } = await listen(server, options.port)
  return {
    url,
    close,
    createKey,
    createAlias,
    keyArn,
    setUnavailable: (mode) => {
      unavailable = mode
    },
    calls: () => [...received]
  }
}
