import { Type } from "@sinclair/typebox";

/** Schemas the admin API's routes share (users and OAuth clients). */

export const Paging = {
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
};

export const AuditEvent = Type.Object({
  type: Type.String(),
  at: Type.String({ format: "date-time" }),
  ip: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
});
