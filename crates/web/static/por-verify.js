// Verifies a proof of inclusion in the browser, following docs/TRANSPARENCY.md step by step
// (the e2e tests hold its verdicts to the server's own verifier, bulwark-por). It fetches the
// report the proof names from this origin and checks that the path from the user's own leaf
// arrives at the root that report publishes for the asset.
"use strict";
(function () {
  const enc = new TextEncoder();
  const U64 = (1n << 64n) - 1n;
  const U128 = (1n << 128n) - 1n;

  function fail(message) { throw new Error(message); }

  function bytesOf(text, field, length) {
    if (typeof text !== "string" || !/^(?:[0-9a-fA-F]{2})*$/.test(text)) fail(field + " is not hex");
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
    if (length !== undefined && out.length !== length) fail(field + " must be " + length + " bytes");
    return out;
  }

  function hexOf(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // Strict decimal: digits only, so "-1" and "1e3" fail.
  function decimal(text, field, max) {
    if (typeof text !== "string" || !/^[0-9]+$/.test(text)) fail(field + " is not a non-negative integer");
    const value = BigInt(text);
    if (value > max) fail(field + " is out of range");
    return value;
  }

  function wholeNumber(value, field) {
    if (!Number.isSafeInteger(value) || value < 0) fail(field + " is not a whole number");
    return value;
  }

  function bigEndian(value, length) {
    const out = new Uint8Array(length);
    let v = value;
    for (let i = length - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
    return out;
  }

  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  async function leaf(id, balance) {
    const hash = await sha256(concat([enc.encode("bulwark-por-leaf"), new Uint8Array([0]), id, bigEndian(balance, 8)]));
    return { hash: hash, sum: balance };
  }

  async function parent(left, right) {
    const sum = left.sum + right.sum;
    if (sum > U128) fail("the sums overflow");
    const hash = await sha256(concat([enc.encode("bulwark-por-node"), new Uint8Array([0]),
      left.hash, bigEndian(left.sum, 16), right.hash, bigEndian(right.sum, 16)]));
    return { hash: hash, sum: sum };
  }

  async function verify(proof, published) {
    const userId = wholeNumber(proof.user_id, "user_id");
    const seq = wholeNumber(proof.report_seq, "report_seq");
    const index = wholeNumber(proof.index, "index");
    const salt = bytesOf(proof.salt, "salt");
    const id = bytesOf(proof.leaf_id, "leaf_id", 32);
    const expected = await sha256(concat([salt, enc.encode(String(userId) + ":" + String(seq))]));
    if (hexOf(expected) !== hexOf(id)) fail("the leaf id does not match the salt, user id and report number");
    const balance = decimal(proof.balance, "balance", U64);
    if (!Array.isArray(proof.path) || proof.path.length > 64) fail("the path is not a list of at most 64 levels");
    if (index >= 2 ** proof.path.length) fail("index does not fit a path of " + proof.path.length + " levels");
    let node = await leaf(id, balance);
    for (let level = 0; level < proof.path.length; level++) {
      const s = proof.path[level] || {};
      const sibling = { hash: bytesOf(s.hash, "path hash", 32), sum: decimal(s.sum, "path sum", U128) };
      const right = Math.floor(index / 2 ** level) % 2 === 1;
      node = right ? await parent(sibling, node) : await parent(node, sibling);
    }
    const root = proof.root || {};
    const rootHash = bytesOf(root.hash, "root hash", 32);
    const rootSum = decimal(root.sum, "root sum", U128);
    if (hexOf(node.hash) !== hexOf(rootHash) || node.sum !== rootSum) fail("the path does not lead to the proof's root");
    if (!published || hexOf(bytesOf(published.hash, "published root", 32)) !== hexOf(rootHash)
        || decimal(published.sum, "published sum", U128) !== rootSum) {
      fail("the proof's root is not the root report " + seq + " publishes for " + proof.asset);
    }
    return { balance: balance, total: rootSum, seq: seq, userId: userId };
  }

  async function run() {
    const out = document.getElementById("verify-result");
    out.textContent = "Verifying…";
    out.removeAttribute("data-valid");
    try {
      let proof;
      try { proof = JSON.parse(document.getElementById("proof-json").value); } catch (e) { fail("the proof is not valid JSON"); }
      if (!proof || typeof proof !== "object") fail("the proof is not a JSON object");
      const seq = wholeNumber(proof.report_seq, "report_seq");
      const response = await fetch("/transparency/v1/reports/" + seq, { credentials: "omit" });
      if (!response.ok) fail("report " + seq + " could not be fetched (" + response.status + ")");
      const report = JSON.parse(await response.text());
      const published = report.proof_of_liabilities && report.proof_of_liabilities[proof.asset];
      if (!published) fail("report " + seq + " publishes no root for " + proof.asset);
      const ok = await verify(proof, published.root);
      out.textContent = "Valid: user " + ok.userId + "'s balance of " + ok.balance + " (smallest units) of " +
        proof.asset + " is counted in report " + ok.seq + ", whose " + proof.asset + " total is " + ok.total + ".";
      out.setAttribute("data-valid", "true");
    } catch (e) {
      out.textContent = "Invalid: " + e.message;
      out.setAttribute("data-valid", "false");
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const button = document.getElementById("verify-proof");
    if (button) button.addEventListener("click", run);
  });
})();
