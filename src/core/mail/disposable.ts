import { createRequire } from "node:module";

/**
 * Throw-away mail providers (§3 FORBIDDEN_MAIL_PROVIDER), from the maintained
 * `disposable-email-domains` list. Loaded once: about 120 000 lower-case domains. `wildcard.json`
 * names providers whose every subdomain is throw-away too; walking up the parent domains below
 * covers both lists with one Set.
 */
const require = createRequire(import.meta.url);
const DISPOSABLE_DOMAINS: ReadonlySet<string> = new Set<string>([
  ...(require("disposable-email-domains") as string[]),
  ...(require("disposable-email-domains/wildcard.json") as string[]),
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
