// Passkeys (WebAuthn) for the console: each element with data-passkey="register",
// "passwordless", "second_factor" or "step_up" gets its button wired. The server sends the
// options as JSON (base64url for binary fields) and verifies the response; this file only
// converts between JSON and the browser's ArrayBuffers.
(function () {
  "use strict";

  const ENDPOINTS = {
    register: ["/console/account/passkeys/options", "/console/account/passkeys"],
    passwordless: ["/console/login/passkey/options", "/console/login/passkey"],
    second_factor: ["/console/login/second-factor/passkey/options", "/console/login/second-factor/passkey"],
    step_up: ["/console/reauth/passkey/options", "/console/reauth/passkey"],
  };

  function toBuffer(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const raw = atob(base64);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    const bytes = new Uint8Array(buffer);
    let raw = "";
    for (let i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfHeaders() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    const headers = { "content-type": "application/json" };
    if (meta && meta.content) headers["x-csrf-token"] = meta.content;
    return headers;
  }

  async function post(url, body) {
    const answer = await fetch(url, {
      method: "POST",
      headers: csrfHeaders(),
      credentials: "same-origin",
      body: JSON.stringify(body || {}),
    });
    const data = await answer.json().catch(function () { return {}; });
    if (!answer.ok) {
      const message = (data.error && data.error.message) || "The passkey step failed.";
      throw new Error(message);
    }
    return data;
  }

  function creationOptions(options) {
    options.challenge = toBuffer(options.challenge);
    options.user.id = toBuffer(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return options;
  }

  function requestOptions(options) {
    options.challenge = toBuffer(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return options;
  }

  function serialise(credential) {
    const response = credential.response;
    const out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      out.response.userHandle = toText(response.userHandle);
    }
    return out;
  }

  async function run(box, mode) {
    const [optionsUrl, verifyUrl] = ENDPOINTS[mode];
    const options = await post(optionsUrl, {});
    let credential;
    if (mode === "register") {
      credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    } else {
      credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
    }
    const nameField = document.getElementById("f-passkey-name");
    const done = await post(verifyUrl, {
      credential: serialise(credential),
      name: nameField ? nameField.value : "",
      next: box.dataset.next || "",
    });
    window.location.assign(done.redirect || "/console/");
  }

  function wire(box) {
    const mode = box.dataset.passkey;
    const button = box.querySelector("button");
    const error = box.querySelector("[id$=passkey-error]") || document.getElementById("passkey-error");
    if (!button || !ENDPOINTS[mode]) return;
    if (!window.PublicKeyCredential) {
      button.disabled = true;
      button.title = "This browser does not support passkeys.";
      return;
    }
    button.addEventListener("click", function () {
      if (error) error.hidden = true;
      button.disabled = true;
      run(box, mode).catch(function (failure) {
        button.disabled = false;
        if (error) {
          error.textContent = failure && failure.message ? failure.message : String(failure);
          error.hidden = false;
        }
      });
    });
  }

  document.querySelectorAll("[data-passkey]").forEach(wire);
})();
