import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Absolute path of the repository's `mail/` folder. Two levels up holds from both `src/mail/` (tsx)
 * and `dist/mail/` (the build, whose rootDir is `src`).
 */
export const DEFAULT_MAIL_DIR: string = resolve(fileURLToPath(new URL("../../mail", import.meta.url)));
