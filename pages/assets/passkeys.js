// Passkeys on the pages. A form marked data-passkey="get" (sign in, a second step) or "create" (add a
// passkey) runs a WebAuthn ceremony when it is sent: it POSTs its CSRF token to data-options for the
// options (JSON; the challenge stays on the server), hands them to the browser, and sends itself with
// the browser's answer, as JSON, in its "credential" field. Such forms are hidden until this script
// finds WebAuthn; without it the page says so, and its other ways work as before.
// The login form also offers passkeys in the email field's autofill (conditional mediation) where
// the browser has it (data-conditional).

(() => {
  const forms = [...document.querySelectorAll("form[data-passkey]")];
  if (forms.length === 0) return;
  const supported =
    typeof window.PublicKeyCredential === "function" &&
    typeof navigator.credentials === "object" &&
    typeof navigator.credentials.get === "function";
  if (!supported) {
    for (const note of document.querySelectorAll("[data-passkey-unsupported]")) note.hidden = false;
    return;
  }
  // Passkeys belong to the origins the server lists (the relying party's): at another address of the
  // same server (http://127.0.0.1 for http://localhost, say) the browser would refuse the ceremony, so
  // the page points to the first listed origin instead.
  const origins = (document.querySelector('meta[name="latchkey-passkey-origins"]')?.content || "")
    .split(" ")
    .filter(Boolean);
  if (origins.length > 0 && !origins.includes(window.location.origin)) {
    const there = origins[0] + window.location.pathname + window.location.search;
    for (const note of document.querySelectorAll("[data-passkey-elsewhere]")) {
      const link = note.querySelector("[data-passkey-elsewhere-link]");
      if (link) {
        link.href = there;
        link.textContent = origins[0];
      }
      note.hidden = false;
    }
    return;
  }

  const toBytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  };
  const toText = (buffer) => {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const descriptors = (list) => (list || []).map((item) => ({ ...item, id: toBytes(item.id) }));

  /** The JSON options made usable by the browser: its own parser where it has one. */
  const requestOptions = (json) =>
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function"
      ? PublicKeyCredential.parseRequestOptionsFromJSON(json)
      : { ...json, challenge: toBytes(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
  const creationOptions = (json) =>
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function"
      ? PublicKeyCredential.parseCreationOptionsFromJSON(json)
      : {
          ...json,
          challenge: toBytes(json.challenge),
          user: { ...json.user, id: toBytes(json.user.id) },
          excludeCredentials: descriptors(json.excludeCredentials),
        };

  /** The browser's answer as JSON: its own toJSON() where it has one, else the fields encoded by hand. */
  const answerJSON = (credential) => {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      if (typeof r.getTransports === "function") response.transports = r.getTransports();
      if (typeof r.getAuthenticatorData === "function") response.authenticatorData = toText(r.getAuthenticatorData());
      if (typeof r.getPublicKeyAlgorithm === "function") response.publicKeyAlgorithm = r.getPublicKeyAlgorithm();
      const key = typeof r.getPublicKey === "function" ? r.getPublicKey() : null;
      if (key) response.publicKey = toText(key);
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = r.userHandle ? toText(r.userHandle) : null;
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response,
    };
  };

  /** A refusal whose words are the server's, or the page's. */
  class Shown extends Error {}

  const words = (form, name) => form.querySelector(".passkey-words")?.getAttribute(`data-${name}`) || "";

  const show = (form, message) => {
    const box = form.querySelector("[data-passkey-error]");
    if (!box) return;
    box.className = "alert alert-error";
    box.textContent = message;
    box.hidden = false;
  };

  /** The options from the server; a redirect (to /reauth, or back to /login) is followed by the page. */
  const fetchOptions = async (form) => {
    const body = new URLSearchParams({ _csrf: form.elements._csrf.value });
    const response = await fetch(form.dataset.options, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { accept: "application/json" },
    });
    if (response.redirected) {
      window.location.assign(response.url);
      return undefined;
    }
    const json = await response.json().catch(() => undefined);
    if (!response.ok || json === undefined) throw new Shown(json?.message || words(form, "failed"));
    return json;
  };

  let conditional;
  const busy = new WeakSet();

  /** One ceremony of `form`; `quiet` (the autofill's) says nothing when it ends without an answer. */
  const run = async (form, { mediation, signal, quiet = false } = {}) => {
    try {
      const json = await fetchOptions(form);
      if (json === undefined) return;
      const credential =
        form.dataset.passkey === "create"
          ? await navigator.credentials.create({ publicKey: creationOptions(json) })
          : await navigator.credentials.get({
              publicKey: requestOptions(json),
              ...(mediation ? { mediation } : {}),
              ...(signal ? { signal } : {}),
            });
      if (!credential) return;
      form.elements.credential.value = JSON.stringify(answerJSON(credential));
      form.submit();
    } catch (error) {
      if (quiet || error?.name === "AbortError") return;
      if (error instanceof Shown) show(form, error.message);
      else if (error?.name === "InvalidStateError" && form.dataset.passkey === "create")
        show(form, words(form, "exists"));
      else if (error?.name === "NotAllowedError") show(form, words(form, "cancelled"));
      else show(form, words(form, "failed"));
    }
  };

  for (const form of forms) {
    form.hidden = false;
    form.addEventListener("submit", (event) => {
      if (form.elements.credential.value) return;
      event.preventDefault();
      if (busy.has(form)) return;
      busy.add(form);
      const box = form.querySelector("[data-passkey-error]");
      if (box) box.hidden = true;
      conditional?.abort();
      conditional = undefined;
      void run(form).finally(() => busy.delete(form));
    });
  }

  const autofill = forms.find((form) => form.hasAttribute("data-conditional"));
  if (autofill && typeof PublicKeyCredential.isConditionalMediationAvailable === "function") {
    PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
      if (!available || busy.has(autofill)) return;
      conditional = new AbortController();
      void run(autofill, { mediation: "conditional", signal: conditional.signal, quiet: true });
    });
  }
})();
