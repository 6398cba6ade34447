/**
 * Who is calling and from where: kept with a session and with each audit event. The HTTP layer fills
 * it in from the request; the token guard and the command line start from NO_META.
 */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
}

export const NO_META: RequestMeta = { ip: null, userAgent: null };
