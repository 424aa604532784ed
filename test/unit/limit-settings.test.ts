/**
 * The limit settings: defaults for a real cloud, 0 to turn a limit off, and trusted proxies given
 * as addresses or CIDRs (anything else stops start-up with the other problems).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { clientKey } from '../../src/limits/auth-failure-limit.js';

test('limits default to 1200 requests per organization and 60 failed authentications a minute', () => {
  const config = loadConfig({});
  assert.deepEqual(config.limits, { perOrganizationPerMinute: 1200, authFailuresPerMinute: 60 });
  assert.deepEqual(config.trustProxy, []);
});

test('0 turns a limit off; proxies are a list of addresses and CIDRs', () => {
  const config = loadConfig({
    EIPD_RATE_LIMIT_PER_MINUTE: '0',
    EIPD_AUTH_FAILURE_LIMIT_PER_MINUTE: '0',
    EIPD_TRUST_PROXY: '10.0.0.0/8, 192.0.2.7,2001:db8::/32',
  });
  assert.deepEqual(config.limits, { perOrganizationPerMinute: 0, authFailuresPerMinute: 0 });
  assert.deepEqual(config.trustProxy, ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
});

test('bad limit values and proxies are all reported at once', () => {
  assert.throws(
    () =>
      loadConfig({
        EIPD_RATE_LIMIT_PER_MINUTE: '-1',
        EIPD_TRUST_PROXY: 'loadbalancer.internal,10.0.0.0/33,192.0.2.1/24/1',
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 4, error.message);
      assert.match(error.message, /EIPD_RATE_LIMIT_PER_MINUTE/);
      assert.match(error.message, /EIPD_TRUST_PROXY: 10\.0\.0\.0\/33/);
      return true;
    },
  );
  assert.throws(
    () => loadConfig({ EIPD_TRUST_PROXY: 'loadbalancer.internal,10.0.0.0/33,192.0.2.1/24/1' }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        'EIPD_TRUST_PROXY: loadbalancer.internal is not an IP address or CIDR',
        'EIPD_TRUST_PROXY: 10.0.0.0/33 is not an IP address or CIDR',
        'EIPD_TRUST_PROXY: 192.0.2.1/24/1 is not an IP address or CIDR',
      ]);
      return true;
    },
  );
});

test('failed authentications count per IPv4 address and per IPv6 /64', () => {
  assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:2:ffff:ffff:ffff:ffff'));
  assert.notEqual(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
  // An IPv4-mapped IPv6 peer is the IPv4 address.
  assert.equal(clientKey('::ffff:192.0.2.7'), clientKey('192.0.2.7'));
});
