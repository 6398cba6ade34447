import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { CompactStringSet } from "../text/compact-set.js";

/**
 * Throw-away mail providers (§3 FORBIDDEN_MAIL_PROVIDER), from the maintained
 * `disposable-email-domains` list: about 120 000 lower-case domains, read once and kept compact
 * (about 2 MB, against 8 MB as a Set beside the parsed lists). `wildcard.json` names providers whose
 * every subdomain is throw-away too; walking up the parent domains below covers both lists.
 */
const resolve = createRequire(import.meta.url).resolve;
const readList = (name: string): string[] => JSON.parse(readFileSync(resolve(name), "utf8")) as string[];
const DISPOSABLE_DOMAINS = new CompactStringSet([
  ...readList("disposable-email-domains/index.json"),
  ...readList("disposable-email-domains/wildcard.json"),
]);

/**
 * True when the address's domain, or any parent domain of it, is on the list
 * (`x@mx.mailinator.com` is refused because `mailinator.com` is). Case-insensitive.
 */
export function isDisposableAddress(email: string): boolean {
  const at = email.lastIndexOf("@");
  let domain = email
    .slice(at + 1)
    .toLowerCase()
    .replace(/\.$/, "");
  while (domain.includes(".")) {
    if (DISPOSABLE_DOMAINS.has(domain)) return true;
    domain = domain.slice(domain.indexOf(".") + 1);
  }
  return DISPOSABLE_DOMAINS.has(domain);
}
