import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MAIL_DIR } from "../../src/mail/index.js";
import { tempDir } from "./harness.js";
import type { ReceivedMail } from "./smtp.js";

/** The shipped mail directory, with the default origin's invitation linking to this server's page. */
export function mailDirWithInviteLink(): string {
  const dir = tempDir("latchkey-mail-");
  cpSync(join(DEFAULT_MAIL_DIR, "default"), join(dir, "default"), { recursive: true });
  writeFileSync(
    join(dir, "default", "origin.json"),
    JSON.stringify({
      from: "no-reply@latchkey.local",
      fromName: "Latchkey",
      defaultLanguage: "en",
      inviteUrl: "http://latchkey.test/invitation?email={{email}}&code={{code}}",
    }),
  );
  return dir;
}

/** The local path of the invitation link in a mail. */
export function linkOf(mail: ReceivedMail): string {
  const match = /http:\/\/latchkey\.test(\/invitation\?\S+)/.exec(mail.text);
  if (!match?.[1]) throw new Error("no invitation link in the mail");
  return match[1];
}
