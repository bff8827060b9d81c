// Solves the login proof-of-work challenge in the browser. Progressive enhancement: without
// JavaScript (or without WebCrypto) the page still works and the nonce can be entered by hand.
"use strict";

function leadingZeroBits(bytes) {
  let count = 0;
  for (const b of bytes) {
    if (b === 0) { count += 8; continue; }
    return count + Math.clz32(b) - 24;
  }
  return count;
}

async function solveChallenge() {
  const box = document.getElementById("challenge");
  const field = document.getElementById("pow_nonce");
  const tokenEl = document.getElementById("pow-token");
  const status = document.getElementById("pow-status");
  if (!box || !field || !tokenEl || !status || !window.crypto || !crypto.subtle) return;
  const token = tokenEl.textContent.trim();
  const bits = Number(box.dataset.bits);
  const encoder = new TextEncoder();
  status.textContent = "Solving the security check in your browser…";
  for (let nonce = 0; nonce < 2 ** 31; nonce++) {
    const data = encoder.encode(token + ":" + nonce);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
    if (leadingZeroBits(digest) >= bits) {
      field.value = String(nonce);
      status.textContent = "Security check solved. Enter your password and continue.";
      return;
    }
  }
}

solveChallenge();
