/**
 * The OpenID provider's room, loaded by the app only when LATCHKEY_OIDC is on (the library it wraps
 * is then imported, not before).
 */
export { oidcPages } from "./pages.js";
export { registerOidcRoutes } from "./routes.js";
export { OidcService } from "./service.js";
