// Verifies Gatehouse tokens offline with `jose` (createRemoteJWKSet + jwtVerify), as a service
// behind the gateway would: the only thing it gets from Gatehouse is the tenant's JWKS URL.
// Input: CHECKS, a JSON array of {jwks_url, host, token, issuer?}. `host` is sent as the Host
// header (the tenant is chosen by host; the test server listens on 127.0.0.1).
// Output: one JSON line per check: {ok: true, alg, kid, payload} or {ok: false, code}.
'use strict';
const { createRemoteJWKSet, jwtVerify } = require('jose');

async function main() {
  const checks = JSON.parse(process.env.CHECKS || '[]');
  for (const check of checks) {
    const jwks = createRemoteJWKSet(new URL(check.jwks_url), {
      headers: { host: check.host },
      timeoutDuration: 5000,
    });
    const options = { algorithms: ['EdDSA', 'RS256'] };
    if (check.issuer) options.issuer = check.issuer;
    try {
      const { payload, protectedHeader } = await jwtVerify(check.token, jwks, options);
      console.log(JSON.stringify({ ok: true, alg: protectedHeader.alg, kid: protectedHeader.kid, payload }));
    } catch (e) {
      console.log(JSON.stringify({ ok: false, code: e.code || String(e) }));
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
