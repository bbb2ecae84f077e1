// Drives Gatehouse's Tiledesk facade with the official npm client, @tiledesk/tiledesk-client, the
// way an integrator would. The Rust end-to-end test (tests/e2e/tiledesk.rs) starts the server,
// creates an agent, a project and a custom token, and passes them in through the environment:
//   GATEHOUSE_API_URL  base URL including the prefix, e.g. http://127.0.0.1:8080/v3
//   AGENT_EMAIL, AGENT_PASSWORD, PROJECT_ID, CUSTOM_TOKEN, EXTERNAL_ID
//   EXPECT_USER_ID (optional: the agent's _id, for an agent imported from tiledesk-server)
// Prints one line a check and exits non-zero on the first failure.
'use strict';

const { TiledeskClient } = require('@tiledesk/tiledesk-client');

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
};

const options = { APIURL: env('GATEHOUSE_API_URL'), log: false };
// The client insists on an API key, which Tiledesk no longer checks; any string does.
const APIKEY = '__APIKEY__';

// The client's static auth calls take a node-style callback; make them promises.
const call = (fn, ...args) =>
  new Promise((resolve, reject) => {
    fn.call(TiledeskClient, ...args, (err, body) => (err ? reject(err) : resolve(body)));
  });

const claimsOf = (token) =>
  JSON.parse(Buffer.from(token.replace(/^JWT /, '').split('.')[1], 'base64url').toString());

function check(label, condition, detail) {
  if (!condition) {
    console.error(`FAIL ${label}: ${JSON.stringify(detail)}`);
    process.exit(1);
  }
  console.log(`ok ${label}`);
}

async function main() {
  const signin = await call(
    TiledeskClient.authEmailPassword, APIKEY, env('AGENT_EMAIL'), env('AGENT_PASSWORD'), options);
  check('authEmailPassword returns a JWT token',
    signin.success === true && signin.token.startsWith('JWT ') && claimsOf(signin.token).sub === 'user', signin);
  check('authEmailPassword returns the user', signin.user.email === env('AGENT_EMAIL'), signin.user);
  // Set by the import test: the agent came from a tiledesk-server export and keeps its _id.
  if (process.env.EXPECT_USER_ID) {
    check('the imported _id came back',
      signin.user._id === process.env.EXPECT_USER_ID && claimsOf(signin.token)._id === process.env.EXPECT_USER_ID,
      signin.user);
  }

  let refused = null;
  try {
    await call(TiledeskClient.authEmailPassword, APIKEY, env('AGENT_EMAIL'), 'wrong-password', options);
  } catch (err) {
    refused = err;
  }
  check('a wrong password is refused with 401',
    refused && refused.response && refused.response.status === 401 &&
      refused.response.data.msg === 'Authentication failed. Wrong password.',
    refused && refused.response && refused.response.data);

  const anonymous = await call(
    TiledeskClient.anonymousAuthentication, env('PROJECT_ID'), APIKEY, options);
  check('anonymousAuthentication returns a guest token',
    anonymous.success === true && claimsOf(anonymous.token).sub === 'guest' &&
      anonymous.user.firstname.startsWith('guest#'), anonymous);

  // axios sends this bodyless POST as an empty form: the server must not mind.
  const custom = await call(TiledeskClient.customAuthentication, env('CUSTOM_TOKEN'), APIKEY, options);
  check('customAuthentication returns a Gatehouse token for the external user',
    custom.success === true && custom.user._id === env('EXTERNAL_ID') &&
      claimsOf(custom.token).sub === 'userexternal' && custom.token !== 'JWT ' + env('CUSTOM_TOKEN'),
    custom);

  console.log('all tiledesk-client checks passed');
}

main().catch((err) => {
  const res = err && err.response;
  console.error('FAIL unexpected error:', res ? `${res.status} ${JSON.stringify(res.data)}` : err);
  process.exit(1);
});
