/**
 * Which addresses a notification may be sent to. A definition's author chooses the URL and can read back what
 * happened to the request, so a URL naming something inside hookflow's own network (a cloud's metadata service
 * at 169.254.169.254, the Lambda runtime API on loopback, a database on 10.x) would let them probe or reach it.
 * hookflow sends only to public unicast addresses; loopback only where the deployment allows it (the local
 * stack, whose test receivers are on this machine). The rule is applied twice, with the same function: to the
 * URL when a definition is written (IP literals and names that always mean loopback), and to every address a
 * name resolves to when sending (core/adapters/notify/guard.ts), since DNS can answer anything.
 */

export type AddressClass =
  | "public"
  | "loopback"
  | "private"
  | "link-local"
  | "shared"
  | "unspecified"
  | "multicast"
  | "reserved";

const DESCRIPTIONS: Record<Exclude<AddressClass, "public">, string> = {
  loopback: "a loopback",
  private: "a private",
  "link-local": "a link-local",
  shared: "a carrier-grade NAT (100.64.0.0/10)",
  unspecified: "an unspecified",
  multicast: "a multicast",
  reserved: "a reserved (or broadcast)",
};

export interface TargetRules {
  /** Loopback addresses (127.0.0.0/8, ::1, localhost) are allowed: only the local stack and tests say so. */
  allowLoopback: boolean;
}

/** Why hookflow will not send to `url`, or undefined when it may (names are checked again once resolved). */
export function notifyUrlProblem(url: string, rules: TargetRules): string | undefined {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed) return "not a URL";
  const host = parsed.hostname;
  const kind = hostClass(host);
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && kind === "loopback"))
    return "must be https (http only for a loopback address)";
  return addressProblem(host, kind, rules);
}

/** Why hookflow will not connect to `address` (an IP a name resolved to), or undefined when it may. */
export function resolvedAddressProblem(address: string, rules: TargetRules): string | undefined {
  return addressProblem(address, ipClass(address) ?? "reserved", rules);
}

function addressProblem(shown: string, kind: AddressClass | "name", rules: TargetRules): string | undefined {
  if (kind === "public" || kind === "name") return undefined;
  if (kind === "loopback" && rules.allowLoopback) return undefined;
  const rule =
    kind === "loopback"
      ? "to loopback only where the local stack allows it (HOOKFLOW_ALLOW_LOOPBACK_TARGETS=1)"
      : "only to public addresses";
  return `${shown} is ${DESCRIPTIONS[kind]} address: hookflow sends notifications ${rule}`;
}

/**
 * A URL's hostname (as `new URL` normalises it: `0x7f000001`, `2130706433` and `0177.1` are all `127.0.0.1`,
 * an IPv6 literal keeps its brackets) classified, or "name" for a DNS name to be checked once resolved.
 */
export function hostClass(hostname: string): AddressClass | "name" {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return "loopback";
  const literal = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return ipClass(literal) ?? "name";
}

/** An IPv4 or IPv6 address classified; undefined when `address` is not one. */
export function ipClass(address: string): AddressClass | undefined {
  const v4 = parseIpv4(address);
  if (v4 !== undefined) return ipv4Class(v4);
  const v6 = parseIpv6(address);
  return v6 === undefined ? undefined : ipv6Class(v6);
}

/** IANA's special-purpose IPv4 registry (RFC 6890 and successors), plus multicast and the reserved 240/4. */
const IPV4_RANGES: Array<[string, number, AddressClass]> = [
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "shared"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "reserved"],
  ["192.88.99.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "reserved"],
  ["198.51.100.0", 24, "reserved"],
  ["203.0.113.0", 24, "reserved"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
];
const IPV4_TABLE = IPV4_RANGES.map(([base, bits, kind]) => ({
  base: parseIpv4(base) as number,
  mask: bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0,
  kind,
}));

function ipv4Class(address: number): AddressClass {
  for (const { base, mask, kind } of IPV4_TABLE) if ((address & mask) >>> 0 === base) return kind;
  return "public";
}

/** Dotted-quad IPv4 only: what `new URL` and DNS produce. */
function parseIpv4(text: string): number | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!match) return undefined;
  const octets = match.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return octets.reduce((value, octet) => value * 256 + octet, 0);
}

/** Eight 16-bit groups, from any textual form (`::`, an embedded IPv4 tail, a zone id); undefined otherwise. */
function parseIpv6(text: string): number[] | undefined {
  const address = text.replace(/%.*$/, "");
  if (!/^[0-9a-f:.]+$/i.test(address) || !address.includes(":")) return undefined;
  let head = address;
  const tail: number[] = [];
  const lastColon = address.lastIndexOf(":");
  if (address.slice(lastColon + 1).includes(".")) {
    const v4 = parseIpv4(address.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail.push(v4 >>> 16, v4 & 0xffff);
    head = address.slice(0, lastColon + 1);
    if (head.endsWith(":") && !head.endsWith("::")) head = head.slice(0, -1);
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const [left, right] = [groups(halves[0] ?? ""), halves.length === 2 ? groups(halves[1] ?? "") : []];
  const parsed = [...left, ...right].map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? Number.parseInt(g, 16) : -1));
  if (parsed.includes(-1)) return undefined;
  const given = parsed.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const zeros = new Array<number>(8 - given).fill(0);
  return [...parsed.slice(0, left.length), ...zeros, ...parsed.slice(left.length), ...tail];
}

const embeddedIpv4 = (g: number[], at: number) => (((g[at] ?? 0) << 16) | (g[at + 1] ?? 0)) >>> 0;

/**
 * Only global unicast (2000::/3) is public, less its special blocks; forms that carry an IPv4 address
 * (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by it.
 */
function ipv6Class(g: number[]): AddressClass {
  const [a = 0, b = 0] = g;
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(8)) return "unspecified";
  if (zeroUpTo(7) && g[7] === 1) return "loopback";
  if (zeroUpTo(5) && g[5] === 0xffff) return ipv4Class(embeddedIpv4(g, 6));
  if (zeroUpTo(4) && g[4] === 0xffff && g[5] === 0) return ipv4Class(embeddedIpv4(g, 6));
  if (zeroUpTo(6)) return ipv4Class(embeddedIpv4(g, 6));
  if (a === 0x64 && b === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return ipv4Class(embeddedIpv4(g, 6));
  if (a === 0x64 && b === 0xff9b && g[2] === 1) return "private";
  if ((a & 0xfe00) === 0xfc00) return "private";
  if ((a & 0xffc0) === 0xfe80) return "link-local";
  if ((a & 0xffc0) === 0xfec0) return "private";
  if ((a & 0xff00) === 0xff00) return "multicast";
  if (a === 0x2002) return ipv4Class(embeddedIpv4(g, 1));
  if (a === 0x2001 && b === 0x0db8) return "reserved";
  if (a === 0x2001 && b < 0x0200) return "reserved";
  if (a === 0x3fff && (b & 0xf000) === 0) return "reserved";
  if ((a & 0xe000) !== 0x2000) return "reserved";
  return "public";
}
