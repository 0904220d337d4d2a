/*
 * Passkeys in the browser: the one script of Portal's pages that use them.
 *
 * Two kinds of element start a ceremony (the server does every check):
 *
 *   <button type="button" data-passkey="get" data-options-url=".." data-finish-url=".." hidden>
 *     Signs in. Click: POST options-url -> {"publicKey": ...}; navigator.credentials.get();
 *     POST finish-url {"credential": ...} -> {"redirect": url} or {"error": message}.
 *
 *   <form data-passkey="create" data-options-url=".." data-finish-url="..">
 *     Adds a passkey. Submit: POST the form's fields to options-url -> {"publicKey": ...};
 *     navigator.credentials.create(); POST finish-url {"credential": ..., "name": ..}.
 *
 * Messages go to the nearest [data-passkey-message] (role="alert"). What they say
 * comes from the element's data-msg-* attributes, which the page renders translated.
 */
(function () {
  "use strict";

  var DEFAULTS = {
    cancelled: "The passkey prompt was closed. Try again.",
    failed: "That did not work. Please reload the page and try again.",
    unsupported: "This browser cannot use passkeys.",
    exists: "This device already holds a passkey for your account.",
    working: "Waiting for your passkey\u2026"
  };

  var busy = false;

  // --- base64url <-> ArrayBuffer (WebAuthn's JSON forms use base64url without padding) ---

  function toBuffer(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function fromBuffer(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBufferIds(descriptors) {
    return (descriptors || []).map(function (descriptor) {
      var copy = Object.assign({}, descriptor);
      copy.id = toBuffer(descriptor.id);
      return copy;
    });
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
    options.excludeCredentials = withBufferIds(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.allowCredentials = withBufferIds(json.allowCredentials);
    return options;
  }

  /* The credential as PublicKeyCredential.toJSON() gives it (not every browser has that yet). */
  function credentialJSON(credential) {
    var answer = credential.response;
    var response = { clientDataJSON: fromBuffer(answer.clientDataJSON) };
    if (answer.attestationObject) {
      response.attestationObject = fromBuffer(answer.attestationObject);
      response.transports = answer.getTransports ? answer.getTransports() : [];
    } else {
      response.authenticatorData = fromBuffer(answer.authenticatorData);
      response.signature = fromBuffer(answer.signature);
      response.userHandle = answer.userHandle ? fromBuffer(answer.userHandle) : null;
    }
    return {
      id: credential.id,
      rawId: fromBuffer(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults
        ? credential.getClientExtensionResults()
        : {},
      authenticatorAttachment: credential.authenticatorAttachment || null
    };
  }

  // --- The page around an element ------------------------------------------------

  function csrfToken(element) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) {
      return meta.getAttribute("content");
    }
    var input =
      (element.form || element).querySelector('input[name="csrf_token"]') ||
      document.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  function text(element, key) {
    var camel = "msg" + key.charAt(0).toUpperCase() + key.slice(1);
    return element.dataset[camel] || DEFAULTS[key];
  }

  /* The nearest [data-passkey-message]: in the element's closest ancestor that has one. */
  function messageBox(element) {
    for (var node = element; node; node = node.parentElement) {
      var box = node.querySelector("[data-passkey-message]");
      if (box) {
        return box;
      }
    }
    return null;
  }

  function say(element, message) {
    var box = messageBox(element);
    if (!box) {
      return;
    }
    box.textContent = message || "";
    box.hidden = !message;
  }

  function controls() {
    return document.querySelectorAll(
      '[data-passkey="get"], form[data-passkey="create"] button, form[data-passkey="create"] input'
    );
  }

  function setBusy(on) {
    busy = on;
    Array.prototype.forEach.call(controls(), function (control) {
      if (on) {
        control.dataset.passkeyWasDisabled = control.disabled ? "yes" : "";
        control.disabled = true;
      } else {
        control.disabled = control.dataset.passkeyWasDisabled === "yes";
      }
    });
  }

  // --- Talking to the server ------------------------------------------------------

  /* POST ``body``; the JSON answer, or {"error": ..} when the answer is not JSON. */
  function post(element, url, body, contentType) {
    var headers = { "X-CSRFToken": csrfToken(element), Accept: "application/json" };
    if (contentType) {
      headers["Content-Type"] = contentType;
    }
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: body
    }).then(function (response) {
      return response.json().then(
        function (data) {
          return data;
        },
        function () {
          return { error: text(element, "failed") };
        }
      );
    });
  }

  function finish(element, data) {
    if (data && data.redirect) {
      window.location.assign(data.redirect);
      return true;
    }
    say(element, (data && data.error) || text(element, "failed"));
    return false;
  }

  function browserRefusal(element, error) {
    if (error && error.name === "NotAllowedError") {
      return text(element, "cancelled");
    }
    if (error && error.name === "InvalidStateError") {
      return text(element, "exists");
    }
    return text(element, "failed");
  }

  /* Run ``ceremony()`` (a promise of the server's last answer) with the controls disabled. */
  function run(element, ceremony) {
    if (busy) {
      return;
    }
    setBusy(true);
    say(element, text(element, "working"));
    ceremony()
      .then(function (data) {
        if (data === null || !finish(element, data)) {
          setBusy(false);
        }
      })
      .catch(function (error) {
        say(element, browserRefusal(element, error));
        setBusy(false);
      });
  }

  // --- The two kinds of element ------------------------------------------------------

  function signIn(button) {
    run(button, function () {
      return post(button, button.dataset.optionsUrl).then(function (data) {
        if (!data.publicKey) {
          say(button, data.error || text(button, "failed"));
          return null;
        }
        return navigator.credentials
          .get({ publicKey: requestOptions(data.publicKey) })
          .then(function (credential) {
            var body = JSON.stringify({ credential: credentialJSON(credential) });
            return post(button, button.dataset.finishUrl, body, "application/json");
          });
      });
    });
  }

  function addPasskey(form) {
    var fields = new URLSearchParams(new FormData(form));
    var name = fields.get("name") || "";
    run(form, function () {
      return post(form, form.dataset.optionsUrl, fields).then(function (data) {
        if (!data.publicKey) {
          say(form, data.error || text(form, "failed"));
          return null;
        }
        return navigator.credentials
          .create({ publicKey: creationOptions(data.publicKey) })
          .then(function (credential) {
            var body = JSON.stringify({ credential: credentialJSON(credential), name: name });
            return post(form, form.dataset.finishUrl, body, "application/json");
          });
      });
    });
  }

  function start() {
    var supported = !!(window.PublicKeyCredential && navigator.credentials && window.fetch);
    document.querySelectorAll('[data-passkey="get"]').forEach(function (button) {
      if (!supported) {
        return; // stays hidden: the password (and code) form is the way in
      }
      button.hidden = false;
      if (button.parentElement) {
        // The "or" between the password form and the passkey button shows with the button.
        button.parentElement.querySelectorAll("[data-passkey-or]").forEach(function (divider) {
          divider.hidden = false;
        });
      }
      button.addEventListener("click", function () {
        signIn(button);
      });
    });
    document.querySelectorAll('form[data-passkey="create"]').forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (!supported) {
          say(form, text(form, "unsupported"));
          return;
        }
        addPasskey(form);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
