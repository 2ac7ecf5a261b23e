import { link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Config, Effect, Layer, Option, Redacted, Semaphore } from "effect"
import { KeyManagementUnavailable, SecretUnreadable } from "../../domain/Errors.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"

/**
 * Master keys held in process: AES-256-GCM via WebCrypto, so it runs on Node
 * and Deno alike.
 *
 * Keyring format (`LOCAL_MASTER_KEY` and the keyring file alike): entries
 * separated by commas or newlines, each `id:base64` where base64 encodes 32
 * random bytes and id matches [A-Za-z0-9._-]{1,64}. The FIRST entry is the
 * current key (new secrets are sealed under it); the others stay to open what
 * was sealed before a rotation. A bare base64 entry gets the id
 * `local-<first 8 hex digits of its SHA-256>`.
 *
 * Without `LOCAL_MASTER_KEY` the keyring lives in `<DATA_DIR>/keyring`
 * (mode 0600), generated on first start. `addKeyToKeyringFile` puts a new
 * current key in front; a running process that meets a key id it does not
 * know re-reads the file before giving up, so rotation needs no restart to
 * keep reading.
 */

export interface KeyringEntry {
  readonly id: string
  readonly material: Uint8Array
}

const idPattern = /^[A-Za-z0-9._-]{1,64}$/
const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/
const keyringFileName = "keyring"
const ivLength = 12
const tagLength = 16

const encoder = new TextEncoder()
const wrapAdditionalData = (keyId: string) => encoder.encode(`integration-service/local-keyring/v1|${keyId}`)

const configError = (message: string) => new KeyManagementUnavailable({ message: `local keyring: ${message}` })

const fromBase64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
const toBase64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes))

const fingerprintId = (material: Uint8Array) =>
  Effect.promise(() => crypto.subtle.digest("SHA-256", material as Uint8Array<ArrayBuffer>)).pipe(
    Effect.map(
      (digest) =>
        `local-${Array.from(new Uint8Array(digest).subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join("")}`
    )
  )

/** Parses a keyring; errors name the entry's position, never its content. */
export const parseKeyring = (text: string): Effect.Effect<ReadonlyArray<KeyringEntry>, KeyManagementUnavailable> =>
  Effect.gen(function* () {
    const parts = text
      .split(/[,\n]/)
      .map((part) => part.trim())
      .filter((part) => part !== "" && !part.startsWith("#"))
    if (parts.length === 0) return yield* configError("the keyring is empty")
    const entries: Array<KeyringEntry> = []
    for (const [index, part] of parts.entries()) {
      const colon = part.indexOf(":")
      const encoded = colon === -1 ? part : part.slice(colon + 1)
      const material = base64Pattern.test(encoded) ? fromBase64(encoded) : undefined
      if (material?.length !== 32)
        return yield* configError(`entry ${index + 1} is not [id:]base64 of exactly 32 bytes`)
      const id = colon === -1 ? yield* fingerprintId(material) : part.slice(0, colon)
      if (!idPattern.test(id)) return yield* configError(`entry ${index + 1} has an invalid key id`)
      if (entries.some((e) => e.id === id)) return yield* configError(`key id ${id} appears twice`)
      entries.push({ id, material })
    }
    return entries
  })

const newEntry = (): string => {
  const material = crypto.getRandomValues(new Uint8Array(32))
  const id = `local-${Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0")).join("")}`
  const line = `${id}:${toBase64(material)}`
  material.fill(0)
  return line
}

const keyringPath = (dataDir: string) => join(dataDir, keyringFileName)

const readKeyringFile = (path: string) =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (cause) => cause
  }).pipe(
    Effect.map(Option.some),
    Effect.catch((cause) =>
      (cause as NodeJS.ErrnoException)?.code === "ENOENT"
        ? Effect.succeed(Option.none<string>())
        : Effect.fail(configError(`cannot read ${path}`))
    )
  )

const writeKeyringFile = (path: string, text: string, exclusive: boolean) =>
  Effect.tryPromise({
    // Written aside, then moved in whole, so a reader never sees half a keyring; link refuses to replace.
    try: async () => {
      const temporary = `${path}.${crypto.randomUUID()}.tmp`
      await writeFile(temporary, text, { mode: 0o600, flag: "wx" })
      try {
        await (exclusive ? link(temporary, path) : rename(temporary, path))
      } finally {
        await rm(temporary, { force: true })
      }
    },
    catch: (cause) => cause
  })

const developmentWarning = (path: string, generated: boolean) =>
  Effect.logWarning(
    [
      "!!! ================================================================== !!!",
      `!!! DEVELOPMENT ONLY: master keys are ${generated ? "newly generated and " : ""}stored in ${path}`,
      "!!! Anyone who can read that file can decrypt every stored credential.",
      "!!! In production set KMS_KEY_ID (AWS KMS) or at least LOCAL_MASTER_KEY.",
      "!!! ================================================================== !!!"
    ].join("\n")
  )

/** The keyring file in `dataDir`, generated with one key when missing. */
const loadOrCreateKeyringFile = Effect.fn("LocalKeyring.loadOrCreate")(function* (dataDir: string) {
  const path = keyringPath(dataDir)
  const existing = yield* readKeyringFile(path)
  if (Option.isSome(existing)) {
    yield* developmentWarning(path, false)
    return existing.value
  }
  yield* Effect.tryPromise({
    try: () => mkdir(dataDir, { recursive: true, mode: 0o700 }),
    catch: () => configError(`cannot create ${dataDir}`)
  })
  const created = yield* writeKeyringFile(path, `${newEntry()}\n`, true).pipe(
    Effect.as(true),
    Effect.catch((cause) =>
      (cause as NodeJS.ErrnoException)?.code === "EEXIST"
        ? Effect.succeed(false)
        : Effect.fail(configError(`cannot write ${path}`))
    )
  )
  yield* developmentWarning(path, created)
  const text = yield* readKeyringFile(path)
  return yield* Option.match(text, {
    onNone: () => Effect.fail(configError(`${path} vanished`)),
    onSome: Effect.succeed
  })
})

/**
 * Generates a key and puts it first (current) in the keyring file of
 * `dataDir`, creating the file when missing. Returns the new key id only.
 */
export const addKeyToKeyringFile = Effect.fn("LocalKeyring.addKey")(function* (dataDir: string) {
  const path = keyringPath(dataDir)
  const lock = `${path}.lock`
  yield* Effect.tryPromise({
    try: () => mkdir(dataDir, { recursive: true, mode: 0o700 }),
    catch: () => configError(`cannot create ${dataDir}`)
  })
  // Two additions racing would lose a key that secrets may already be wrapped under.
  yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () => writeFile(lock, "", { mode: 0o600, flag: "wx" }),
      catch: () => configError(`${lock} exists: another key is being added (remove it if nothing is running)`)
    }),
    () => Effect.promise(() => rm(lock, { force: true }))
  )
  const existing = Option.getOrElse(yield* readKeyringFile(path), () => "")
  if (existing.trim() !== "") yield* parseKeyring(existing)
  const entry = newEntry()
  yield* writeKeyringFile(path, `${entry}\n${existing}`, false).pipe(
    Effect.mapError(() => configError(`cannot write ${path}`))
  )
  return entry.slice(0, entry.indexOf(":"))
}, Effect.scoped)

const importKey = (entry: KeyringEntry) =>
  Effect.promise(() =>
    crypto.subtle.importKey("raw", entry.material as Uint8Array<ArrayBuffer>, "AES-GCM", false, ["encrypt", "decrypt"])
  ).pipe(Effect.ensuring(Effect.sync(() => entry.material.fill(0))))

const make = Effect.fnUntraced(function* (
  entries: ReadonlyArray<KeyringEntry>,
  reload: Option.Option<Effect.Effect<ReadonlyArray<KeyringEntry>, KeyManagementUnavailable>>
) {
  const keys = new Map<string, CryptoKey>()
  const currentKeyId = entries[0]!.id
  for (const entry of entries) keys.set(entry.id, yield* importKey(entry))
  const reloading = yield* Semaphore.make(1)

  const refresh = reloading.withPermits(1)(
    Effect.gen(function* () {
      if (Option.isNone(reload)) return
      for (const entry of yield* reload.value) {
        if (keys.has(entry.id)) entry.material.fill(0)
        else keys.set(entry.id, yield* importKey(entry))
      }
    })
  )

  const keyFor = (keyId: string) =>
    Effect.gen(function* () {
      const known = keys.get(keyId)
      if (known !== undefined) return Option.some(known)
      yield* refresh
      return Option.fromNullishOr(keys.get(keyId))
    })

  const wrapWith = (key: CryptoKey, keyId: string, dataKey: Uint8Array) =>
    Effect.gen(function* () {
      const iv = crypto.getRandomValues(new Uint8Array(ivLength))
      const sealed = yield* Effect.promise(() =>
        crypto.subtle.encrypt(
          { name: "AES-GCM", iv, additionalData: wrapAdditionalData(keyId) },
          key,
          dataKey as Uint8Array<ArrayBuffer>
        )
      )
      const wrapped = new Uint8Array(ivLength + sealed.byteLength)
      wrapped.set(iv)
      wrapped.set(new Uint8Array(sealed), ivLength)
      return wrapped
    })

  const unwrap = (wrapped: Uint8Array, keyId: string) =>
    Effect.gen(function* () {
      const key = yield* keyFor(keyId)
      if (Option.isNone(key))
        return yield* new SecretUnreadable({ message: `master key ${keyId} is not in the local keyring` })
      if (wrapped.length < ivLength + tagLength)
        return yield* new SecretUnreadable({ message: `the data key does not open under master key ${keyId}` })
      const plain = yield* Effect.tryPromise({
        try: () =>
          crypto.subtle.decrypt(
            { name: "AES-GCM", iv: wrapped.slice(0, ivLength), additionalData: wrapAdditionalData(keyId) },
            key.value,
            wrapped.slice(ivLength)
          ),
        catch: () => new SecretUnreadable({ message: `the data key does not open under master key ${keyId}` })
      })
      return new Uint8Array(plain)
    })

  const current = keys.get(currentKeyId)!

  return KeyManagement.of({
    currentKeyId,
    generateDataKey: Effect.gen(function* () {
      const plaintext = crypto.getRandomValues(new Uint8Array(32))
      const wrapped = yield* wrapWith(current, currentKeyId, plaintext)
      return { plaintext: Redacted.make(plaintext), wrapped, keyId: currentKeyId }
    }).pipe(Effect.withSpan("LocalKeyring.generateDataKey")),
    decrypt: Effect.fn("LocalKeyring.decrypt")(function* (wrapped: Uint8Array, keyId: string) {
      return Redacted.make(yield* unwrap(wrapped, keyId))
    }),
    reEncrypt: Effect.fn("LocalKeyring.reEncrypt")(function* (wrapped: Uint8Array, fromKeyId: string, toKeyId: string) {
      const target = yield* keyFor(toKeyId)
      if (Option.isNone(target))
        return yield* configError(`master key ${toKeyId} is not in the keyring: add it before rotating to it`)
      const dataKey = yield* unwrap(wrapped, fromKeyId)
      const next = yield* wrapWith(target.value, toKeyId, dataKey).pipe(
        Effect.ensuring(Effect.sync(() => dataKey.fill(0)))
      )
      return { wrapped: next, keyId: toKeyId }
    }),
    ping: Effect.gen(function* () {
      const probe = new Uint8Array(32)
      const wrapped = yield* wrapWith(current, currentKeyId, probe)
      yield* unwrap(wrapped, currentKeyId).pipe(
        Effect.mapError(() => configError("the current master key failed a round trip"))
      )
    }).pipe(Effect.withSpan("LocalKeyring.ping"))
  })
})

const fromText = (text: Redacted.Redacted<string>) =>
  Layer.effect(
    KeyManagement,
    Effect.flatMap(parseKeyring(Redacted.value(text)), (entries) => make(entries, Option.none()))
  )

const fromDataDir = (dataDir: string) =>
  Layer.effect(
    KeyManagement,
    Effect.gen(function* () {
      const entries = yield* parseKeyring(yield* loadOrCreateKeyringFile(dataDir))
      const reload = readKeyringFile(keyringPath(dataDir)).pipe(
        Effect.flatMap(
          Option.match({ onNone: () => Effect.fail(configError("the keyring file vanished")), onSome: parseKeyring })
        )
      )
      return yield* make(entries, Option.some(reload))
    })
  )

export const LocalKeyringConfig = Config.all({
  keys: Config.option(Config.Redacted("LOCAL_MASTER_KEY")),
  dataDir: Config.String("DATA_DIR").pipe(Config.withDefault("./.data"))
})

export const LocalKeyring = {
  /** Keys from a keyring text (the `LOCAL_MASTER_KEY` format). */
  layerKeys: fromText,
  /** Keys from `<dataDir>/keyring`, generated on first use; re-read when an unknown key id shows up. */
  layerFile: fromDataDir,
  /** `LOCAL_MASTER_KEY` when set, else the keyring file in `DATA_DIR` (default `./.data`). */
  layerConfig: Layer.unwrap(
    Effect.map(LocalKeyringConfig, ({ keys, dataDir }) =>
      Option.match(keys, { onNone: () => fromDataDir(dataDir), onSome: fromText })
    )
  ),
  addKey: addKeyToKeyringFile
}
