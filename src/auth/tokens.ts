import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  type CryptoKey,
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  importSPKI,
  importX509,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
  SignJWT,
} from 'jose';
import { isUuid } from '../uuid.js';
import { createVerifiedTokens } from './verified-tokens.js';

export interface AuthSettings {
  /** Shared secret for HS256/HS384/HS512 (whichever are listed in `algorithms`). */
  hs256Secret?: string;
  /** PEM public keys (SPKI, `-----BEGIN PUBLIC KEY-----`) or X.509 certificates. */
  publicKeyPems: string[];
  /** JWKS document: a remote URL (cached, refetched on unknown kid after a cooldown) or a local file. */
  jwks?: { url?: string; file?: string };
  /** Accepted algorithms, explicit. 'none' is never accepted even if listed. */
  algorithms: string[];
  /** Name of the claim holding the organization uuid, default 'orgId'. */
  orgClaim: string;
  issuer?: string;
  audience?: string;
  /** Scope value that grants operator access, e.g. 'eip:admin'. */
  adminScope: string;
  /**
   * How many seconds the issuer's clock may be off from ours (EIPD_JWT_CLOCK_SKEW_SECONDS): a
   * token is expired `exp + tolerance` at the earliest, and refused while its `nbf` or `iat` is
   * more than this ahead of our clock. 0 when absent (configuration passes its own default, 30).
   */
  clockToleranceSeconds?: number;
  /**
   * A token with a `kid` the cached JWKS lacks refetches it at most once per this many
   * milliseconds (default 30 s), and concurrent ones share that fetch: a flood of made-up kids
   * costs the JWKS server one request per cooldown.
   */
  jwksCooldownMs?: number;
}

export interface Principal {
  orgId: string | null;
  subject: string | null;
  admin: boolean;
}

export type VerifyOutcome =
  | { ok: true; principal: Principal }
  | { ok: false; failure: 'missing' | 'invalid' | 'expired' };

export interface TokenVerifier {
  verify(authorizationHeader: string | undefined): Promise<VerifyOutcome>;
}

/** Larger tokens are refused before any decoding, so a hostile header costs O(1) work. */
const MAX_TOKEN_LENGTH = 8 * 1024;
const BEARER_PREFIX = 'bearer ';
/** HMAC keys shorter than the hash output weaken HS256; 32 bytes is the RFC 7518 §3.2 floor. */
export const MIN_SECRET_BYTES = 32;
/**
 * JWS compact serialization: three base64url segments. The signature must be non-empty, which
 * already rules out unsecured (`alg: none`) JWTs at the shape check; the alg allow-list below is
 * the second line of defence.
 */
const JWS_COMPACT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export type HmacAlgorithm = 'HS256' | 'HS384' | 'HS512';

interface AlgorithmSpec {
  family: 'hmac' | 'asymmetric';
  /** For asymmetric algorithms: whether a public key is of the kind this algorithm needs. */
  fits: (key: KeyObject) => boolean;
}

const isRsa = (key: KeyObject): boolean => key.asymmetricKeyType === 'rsa';
const isCurve =
  (curve: string) =>
  (key: KeyObject): boolean =>
    key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === curve;
const isEd25519 = (key: KeyObject): boolean => key.asymmetricKeyType === 'ed25519';
const noKey = (): boolean => false;

/**
 * The algorithms this verifier knows. A Map (not an object literal) so that names such as
 * 'constructor' or '__proto__' can never resolve to something. Only WebCrypto-backed algorithms
 * that Node 20 supports are listed; 'none' is deliberately absent.
 */
const ALGORITHMS: ReadonlyMap<string, AlgorithmSpec> = new Map<string, AlgorithmSpec>([
  ['HS256', { family: 'hmac', fits: noKey }],
  ['HS384', { family: 'hmac', fits: noKey }],
  ['HS512', { family: 'hmac', fits: noKey }],
  ['RS256', { family: 'asymmetric', fits: isRsa }],
  ['RS384', { family: 'asymmetric', fits: isRsa }],
  ['RS512', { family: 'asymmetric', fits: isRsa }],
  ['PS256', { family: 'asymmetric', fits: isRsa }],
  ['PS384', { family: 'asymmetric', fits: isRsa }],
  ['PS512', { family: 'asymmetric', fits: isRsa }],
  ['ES256', { family: 'asymmetric', fits: isCurve('prime256v1') }],
  ['ES384', { family: 'asymmetric', fits: isCurve('secp384r1') }],
  ['ES512', { family: 'asymmetric', fits: isCurve('secp521r1') }],
  ['EdDSA', { family: 'asymmetric', fits: isEd25519 }],
  ['Ed25519', { family: 'asymmetric', fits: isEd25519 }],
]);

const HMAC_ALGORITHMS: ReadonlySet<string> = new Set<HmacAlgorithm>(['HS256', 'HS384', 'HS512']);

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

const MISSING: VerifyOutcome = { ok: false, failure: 'missing' };
const INVALID: VerifyOutcome = { ok: false, failure: 'invalid' };
const EXPIRED: VerifyOutcome = { ok: false, failure: 'expired' };

type ParsedPem =
  | { ok: true; label: 'PUBLIC KEY' | 'CERTIFICATE'; key: KeyObject }
  | { ok: false; problem: string };

/**
 * Parses a configured PEM with node:crypto so that validation can stay synchronous. Only the two
 * public forms are accepted: a private key here would mean a secret sits in public config.
 */
function parsePem(pem: string): ParsedPem {
  const labels = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]);
  if (labels.length !== 1) {
    return { ok: false, problem: `must contain exactly one PEM block (found ${labels.length})` };
  }
  const label = labels[0];
  if (label === undefined || label.includes('PRIVATE')) {
    return { ok: false, problem: 'is a private key; configure the public key only' };
  }
  if (label !== 'PUBLIC KEY' && label !== 'CERTIFICATE') {
    return {
      ok: false,
      problem: `has unsupported PEM type '${label}' (expected PUBLIC KEY or CERTIFICATE)`,
    };
  }
  try {
    const key =
      label === 'CERTIFICATE'
        ? new X509Certificate(pem).publicKey
        : createPublicKey({ key: pem, format: 'pem' });
    return { ok: true, label, key };
  } catch {
    return { ok: false, problem: 'could not be parsed' };
  }
}

/** Human-readable configuration problems; empty when the settings are usable. Never echoes secrets. */
export function validateAuthSettings(s: AuthSettings): string[] {
  const problems: string[] = [];
  // Settings usually come from untyped config; guard the array so validation itself cannot throw.
  const pemInputs: unknown[] = Array.isArray(s.publicKeyPems) ? s.publicKeyPems : [];
  const algorithms: unknown[] = Array.isArray(s.algorithms) ? s.algorithms : [];
  const hasSecret = s.hs256Secret !== undefined;
  const jwksUrl = s.jwks?.url;
  const jwksFile = s.jwks?.file;
  const hasJwks = jwksUrl !== undefined || jwksFile !== undefined;

  if (!hasSecret && pemInputs.length === 0 && !hasJwks) {
    problems.push('no verification key configured: set a shared secret, public key PEMs or a JWKS');
  }
  if (typeof s.hs256Secret === 'string' && Buffer.byteLength(s.hs256Secret) < MIN_SECRET_BYTES) {
    problems.push(`shared secret is shorter than ${MIN_SECRET_BYTES} bytes`);
  } else if (hasSecret && typeof s.hs256Secret !== 'string') {
    problems.push('shared secret must be a string');
  }

  if (s.jwks !== undefined && !hasJwks) problems.push('jwks is set but has neither url nor file');
  if (jwksUrl !== undefined && jwksFile !== undefined) {
    problems.push('jwks: set either url or file, not both');
  }
  if (jwksUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(jwksUrl);
    } catch {
      problems.push('jwks.url is not a valid URL');
    }
    // Plain HTTP would let anyone on the path substitute signing keys; allow it only on loopback.
    if (url !== undefined && url.protocol !== 'https:') {
      if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname)) {
        problems.push('jwks.url must use https (plain http is allowed only for loopback hosts)');
      }
    }
  }

  const pemKeys: KeyObject[] = [];
  pemInputs.forEach((pem, index) => {
    if (typeof pem !== 'string') {
      problems.push(`publicKeyPems[${index}] is not a string`);
      return;
    }
    const parsed = parsePem(pem);
    if (!parsed.ok) {
      problems.push(`publicKeyPems[${index}] ${parsed.problem}`);
      return;
    }
    // jose refuses RSA keys under 2048 bits at verification time; say so at startup instead.
    const bits = parsed.key.asymmetricKeyDetails?.modulusLength;
    if (parsed.key.asymmetricKeyType === 'rsa' && bits !== undefined && bits < 2048) {
      problems.push(`publicKeyPems[${index}] is a ${bits}-bit RSA key; at least 2048 are required`);
    }
    pemKeys.push(parsed.key);
  });

  if (algorithms.length === 0) problems.push('no algorithms configured');
  for (const alg of algorithms) {
    if (typeof alg !== 'string') {
      problems.push('algorithms must be strings');
      continue;
    }
    if (alg.toLowerCase() === 'none') {
      problems.push("algorithm 'none' (unsecured JWT) is listed; it is never accepted, remove it");
      continue;
    }
    const spec = ALGORITHMS.get(alg);
    if (spec === undefined) {
      problems.push(`unknown algorithm '${alg}' (names are case-sensitive)`);
      continue;
    }
    if (spec.family === 'hmac') {
      if (!hasSecret)
        problems.push(`algorithm ${alg} is listed but no shared secret is configured`);
      continue;
    }
    // A JWKS may hold any key kind and is only known at runtime, so it satisfies every
    // asymmetric algorithm here; with PEMs alone at least one must be of the right kind.
    if (!hasJwks && !pemKeys.some((key) => spec.fits(key))) {
      problems.push(
        pemInputs.length === 0
          ? `algorithm ${alg} is listed but no public key or JWKS is configured`
          : `algorithm ${alg} is listed but none of the public keys is usable with it`,
      );
    }
  }

  if (typeof s.orgClaim !== 'string' || s.orgClaim === '') {
    problems.push('orgClaim must be a non-empty claim name');
  }
  // Scope is a space-separated list, so a value with whitespace could never match a string scope.
  if (typeof s.adminScope !== 'string' || s.adminScope === '' || /\s/.test(s.adminScope)) {
    problems.push('adminScope must be a non-empty scope value without whitespace');
  }
  if (s.issuer === '') problems.push('issuer, when set, must not be empty');
  if (s.audience === '') problems.push('audience, when set, must not be empty');
  const tolerance = s.clockToleranceSeconds;
  if (tolerance !== undefined && !(Number.isFinite(tolerance) && tolerance >= 0)) {
    problems.push('clockToleranceSeconds must be a non-negative number');
  }
  return problems;
}

/** Spaces RFC 7235 allows between the scheme and the credentials (`1*SP`), within reason. */
const MAX_SEPARATOR_SPACES = 8;

/** Returns the compact JWS from an Authorization header, or null if it is not `Bearer <jws>`. */
function extractBearerToken(header: string): string | null {
  // Length first: nothing below should scan an attacker-sized string.
  if (header.length > BEARER_PREFIX.length + MAX_SEPARATOR_SPACES + MAX_TOKEN_LENGTH) return null;
  if (header.slice(0, BEARER_PREFIX.length).toLowerCase() !== BEARER_PREFIX) return null;
  let start = BEARER_PREFIX.length;
  while (header[start] === ' ' && start < BEARER_PREFIX.length + MAX_SEPARATOR_SPACES) start++;
  const token = header.slice(start);
  return JWS_COMPACT_RE.test(token) ? token : null;
}

function scopeIncludes(scope: unknown, wanted: string): boolean {
  if (wanted === '') return false;
  if (typeof scope === 'string') return scope.split(/\s+/).includes(wanted);
  if (Array.isArray(scope)) return scope.some((entry) => entry === wanted);
  return false;
}

/**
 * `sub` is recorded as the actor of every change, in a text column, and shown to operators: a
 * subject with control characters (PostgreSQL text cannot even hold NUL), characters that break
 * or reorder the line it is shown on (line separators, bidirectional overrides that make an audit
 * entry read as someone else), a lone surrogate (stored as U+FFFD, so the record would differ from
 * the token) or of absurd length makes the token unusable. The length is in UTF-16 code units
 * (String#length), as the verifier counts.
 */
export const MAX_SUBJECT_LENGTH = 255;
// C0, DEL and C1 controls; line and paragraph separators; bidirectional marks, embeddings,
// overrides and isolates; the byte order mark.
const CONTROL_CHARACTERS = /[\p{Cc}\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/u;
// String#isWellFormed needs a newer lib than this project's; without the u flag, code units.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why the verifier would refuse a token with this `sub`, or undefined when it would not. Exported
 * so that whatever mints tokens (mintToken, the token command) refuses the same subjects up front.
 */
export function subjectProblem(sub: string): string | undefined {
  if (sub.length > MAX_SUBJECT_LENGTH) return `is longer than ${MAX_SUBJECT_LENGTH} characters`;
  if (CONTROL_CHARACTERS.test(sub)) {
    return 'contains a control character (such as a newline, a tab or a bidirectional override)';
  }
  if (LONE_SURROGATE.test(sub)) return 'is not well-formed Unicode (a lone surrogate)';
  return undefined;
}

function acceptableSubject(sub: unknown): boolean {
  return sub === undefined || (typeof sub === 'string' && subjectProblem(sub) === undefined);
}

/**
 * jose checks `iat` only against a maximum token age, which eipd does not set, so a token "issued"
 * an hour from now would verify. Such a token was minted by a clock that is wrong or on purpose
 * ahead (say, to outlive a key rotation); it is refused, in whole seconds like jose's `nbf` check,
 * unless within the configured clock skew.
 */
function issuedInTheFuture(iat: unknown, toleranceSeconds: number): boolean {
  return typeof iat === 'number' && iat > Math.floor(Date.now() / 1000) + toleranceSeconds;
}

function toPrincipal(payload: JWTPayload, orgClaim: string, adminScope: string): Principal {
  // hasOwn so that a claim name such as '__proto__' cannot pick up inherited values.
  const org = Object.hasOwn(payload, orgClaim) ? payload[orgClaim] : undefined;
  return {
    orgId: typeof org === 'string' && isUuid(org) ? org.toLowerCase() : null,
    subject: typeof payload.sub === 'string' ? payload.sub : null,
    admin: scopeIncludes(payload.scope, adminScope),
  };
}

type Attempt = { result: 'ok'; payload: JWTPayload } | { result: 'expired' | 'invalid' };

/**
 * One verification attempt with one key (or a JWKS resolver). jose checks the signature before
 * any claim, so JWTExpired implies the signature was good: that is the only path to 'expired'.
 */
async function attempt(
  token: string,
  key: CryptoKey | Uint8Array | JWTVerifyGetKey,
  options: JWTVerifyOptions,
): Promise<Attempt> {
  try {
    const { payload } = await jwtVerify(token, key, options);
    return { result: 'ok', payload };
  } catch (err) {
    if (err instanceof errors.JWTExpired) return { result: 'expired' };
    // A kid-less token can match several JWKS keys; jose hands them back to try one by one.
    if (err instanceof errors.JWKSMultipleMatchingKeys) {
      let sawExpired = false;
      for await (const candidate of err) {
        const outcome = await attempt(token, candidate, options);
        if (outcome.result === 'ok') return outcome;
        if (outcome.result === 'expired') sawExpired = true;
      }
      return { result: sawExpired ? 'expired' : 'invalid' };
    }
    // Everything else (bad signature, claims, malformed input, JWKS fetch failure) is 'invalid'.
    // The error is dropped rather than logged: jose errors can carry the token's claims.
    return { result: 'invalid' };
  }
}

async function importPem(pem: string, alg: string): Promise<CryptoKey | undefined> {
  try {
    return pem.includes('-----BEGIN CERTIFICATE-----')
      ? await importX509(pem, alg)
      : await importSPKI(pem, alg);
  } catch {
    // Expected whenever the key kind does not fit the algorithm (an EC key for RS256, ...).
    return undefined;
  }
}

/**
 * Builds a verifier. Throws (without echoing secrets) when the settings have any problem reported
 * by validateAuthSettings, when the JWKS file cannot be read, or when a listed asymmetric
 * algorithm ends up with no usable key: failing at startup beats rejecting every request later.
 */
export async function createTokenVerifier(settings: AuthSettings): Promise<TokenVerifier> {
  const problems = validateAuthSettings(settings);
  if (problems.length > 0) throw new Error(`invalid auth settings: ${problems.join('; ')}`);

  const allowed = new Set(settings.algorithms.filter((alg) => ALGORITHMS.has(alg)));
  // The secret is imported once per allowed HMAC algorithm: handed over as raw bytes, jose would
  // import it again for every token, which costs about as much as checking the signature.
  const hmacKeys = new Map<string, CryptoKey>();
  if (settings.hs256Secret !== undefined) {
    const secret = new TextEncoder().encode(settings.hs256Secret);
    for (const alg of allowed) {
      if (!HMAC_ALGORITHMS.has(alg)) continue;
      const hash = { name: `SHA-${alg.slice(2)}` };
      hmacKeys.set(
        alg,
        await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash }, false, ['verify']),
      );
    }
  }

  let jwks: JWTVerifyGetKey | undefined;
  if (settings.jwks?.file !== undefined) {
    let document: unknown;
    try {
      document = JSON.parse(await readFile(settings.jwks.file, 'utf8'));
    } catch {
      throw new Error(
        `invalid auth settings: jwks.file ${settings.jwks.file} is not readable JSON`,
      );
    }
    try {
      // createLocalJWKSet validates the shape; it takes the parsed document as-is.
      jwks = createLocalJWKSet(document as Parameters<typeof createLocalJWKSet>[0]);
    } catch {
      throw new Error(`invalid auth settings: jwks.file ${settings.jwks.file} is not a valid JWKS`);
    }
  } else if (settings.jwks?.url !== undefined) {
    // Refetched when the 10 min cache is stale, or on an unknown kid at most once per cooldown;
    // jose shares one fetch among concurrent callers. A fetch that takes over 5 s fails (401).
    jwks = createRemoteJWKSet(new URL(settings.jwks.url), {
      timeoutDuration: 5_000,
      cacheMaxAge: 10 * 60_000,
      cooldownDuration: settings.jwksCooldownMs ?? 30_000,
    });
  }

  // Keys are bound to one algorithm at import time, so a PEM is only ever used for an algorithm it
  // was imported for; there is no path from an asymmetric key to an HMAC verification.
  const pemKeysByAlg = new Map<string, CryptoKey[]>();
  for (const alg of allowed) {
    if (HMAC_ALGORITHMS.has(alg)) continue;
    const keys: CryptoKey[] = [];
    for (const pem of settings.publicKeyPems) {
      const key = await importPem(pem, alg);
      if (key !== undefined) keys.push(key);
    }
    if (keys.length === 0 && jwks === undefined) {
      throw new Error(`invalid auth settings: no public key could be imported for ${alg}`);
    }
    pemKeysByAlg.set(alg, keys);
  }

  const orgClaim = settings.orgClaim;
  const adminScope = settings.adminScope;
  const clockTolerance = settings.clockToleranceSeconds ?? 0;
  const verified = createVerifiedTokens(clockTolerance);

  async function verifyToken(token: string): Promise<VerifyOutcome> {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return INVALID;
    }
    // The header's alg only picks which configured key family to try; it is checked against the
    // allow-list first and pinned as the sole accepted algorithm for the actual verification.
    if (typeof alg !== 'string' || !allowed.has(alg)) return INVALID;
    const options: JWTVerifyOptions = {
      algorithms: [alg],
      issuer: settings.issuer,
      audience: settings.audience,
      clockTolerance,
      // A token without exp would be valid forever; this control plane does not accept those.
      requiredClaims: ['exp'],
    };

    const candidates: Array<CryptoKey | JWTVerifyGetKey> = [];
    if (HMAC_ALGORITHMS.has(alg)) {
      const hmacKey = hmacKeys.get(alg);
      if (hmacKey !== undefined) candidates.push(hmacKey);
    } else {
      candidates.push(...(pemKeysByAlg.get(alg) ?? []));
      if (jwks !== undefined) candidates.push(jwks);
    }

    let sawExpired = false;
    for (const key of candidates) {
      const outcome = await attempt(token, key, options);
      if (outcome.result === 'ok') {
        if (!acceptableSubject(outcome.payload.sub)) return INVALID;
        if (issuedInTheFuture(outcome.payload.iat, clockTolerance)) return INVALID;
        const principal = Object.freeze(toPrincipal(outcome.payload, orgClaim, adminScope));
        verified.remember(token, principal, outcome.payload.exp);
        return { ok: true, principal };
      }
      if (outcome.result === 'expired') sawExpired = true;
    }
    return sawExpired ? EXPIRED : INVALID;
  }

  return {
    async verify(authorizationHeader) {
      if (authorizationHeader === undefined) return MISSING;
      if (typeof authorizationHeader !== 'string') return INVALID;
      const token = extractBearerToken(authorizationHeader);
      if (token === null) return INVALID;
      const known = verified.get(token);
      if (known !== undefined) return { ok: true, principal: known };
      try {
        return await verifyToken(token);
      } catch {
        // Fail closed on anything unforeseen, and never let the token reach an error message.
        return INVALID;
      }
    },
  };
}

/**
 * The algorithm to mint with for a verifier that accepts `algorithms`: HS256 when listed, else the
 * first HMAC algorithm listed; undefined when none is, since any HMAC-signed token would be refused.
 */
export function hmacAlgorithmFor(algorithms: readonly string[]): HmacAlgorithm | undefined {
  if (algorithms.includes('HS256')) return 'HS256';
  return algorithms.find((alg): alg is HmacAlgorithm => HMAC_ALGORITHMS.has(alg));
}

/** Mints an HMAC-signed token, e.g. for operators and tests. Always sets iat and exp. */
export async function mintToken(opts: {
  secret: string;
  orgId?: string;
  subject?: string;
  scope?: string;
  ttlSeconds: number;
  orgClaim?: string;
  issuer?: string;
  audience?: string;
  algorithm?: HmacAlgorithm;
}): Promise<string> {
  const algorithm = opts.algorithm ?? 'HS256';
  // Runtime checks too: callers may be plain JS or CLI input.
  if (!HMAC_ALGORITHMS.has(algorithm)) throw new RangeError('mintToken: unsupported algorithm');
  if (Buffer.byteLength(opts.secret) < MIN_SECRET_BYTES) {
    throw new RangeError(`mintToken: secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(opts.ttlSeconds) || opts.ttlSeconds <= 0) {
    throw new RangeError('mintToken: ttlSeconds must be a positive integer');
  }
  // A non-uuid org would silently verify as "no org"; refuse to mint such a token.
  if (opts.orgId !== undefined && !isUuid(opts.orgId)) {
    throw new RangeError('mintToken: orgId must be a uuid');
  }
  // The verifier would refuse these tokens as invalid (401), which says nothing about why.
  const badSubject = opts.subject === undefined ? undefined : subjectProblem(opts.subject);
  if (badSubject !== undefined) throw new RangeError(`mintToken: subject ${badSubject}`);
  const orgClaim = opts.orgClaim ?? 'orgId';
  if (orgClaim === '') throw new RangeError('mintToken: orgClaim must not be empty');

  const claims: JWTPayload = {};
  if (opts.orgId !== undefined) claims[orgClaim] = opts.orgId.toLowerCase();
  if (opts.scope !== undefined) claims.scope = opts.scope;
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: algorithm, typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + opts.ttlSeconds);
  if (opts.subject !== undefined) jwt.setSubject(opts.subject);
  if (opts.issuer !== undefined) jwt.setIssuer(opts.issuer);
  if (opts.audience !== undefined) jwt.setAudience(opts.audience);
  const token = await jwt.sign(new TextEncoder().encode(opts.secret));
  // Only a long issuer or audience can get here; the verifier refuses such tokens unread.
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new RangeError(
      `mintToken: the token would be ${token.length} characters; eipd accepts at most ${MAX_TOKEN_LENGTH}`,
    );
  }
  return token;
}
