import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alertsSchema } from '../../../src/config/schema/alerts.ts';
import { ALERT_KIND_OF, LEGACY_ONLY, ownerMessageRoute, viaAlerts, type LegacyNotice } from '../../../src/alerts/owner-message.ts';
import { ALERT_RULES } from '../../../src/alerts/table.ts';

const NOTICES = Object.keys(ALERT_KIND_OF) as LegacyNotice[];

test('every legacy notice is covered by a row of the alert table of the kind that replaces it', () => {
  const attackEvents = ['ban', 'factor_locked', 'verification_failure'];
  for (const notice of NOTICES) {
    const events = notice === 'attack' ? attackEvents : [notice];
    for (const event of events) {
      assert.ok(
        ALERT_RULES.some((rule) => rule.event === event && rule.kind === ALERT_KIND_OF[notice]),
        `${notice}: no ${ALERT_KIND_OF[notice]} alert for ${event}: the owner would get no message with alerts on`,
      );
    }
  }
});

test('the route: the alert when alerts and its kind are on, the legacy notice otherwise; never both, never neither', () => {
  const on = alertsSchema.parse({});
  for (const notice of NOTICES) {
    assert.equal(viaAlerts(on, notice), true, notice);
    assert.equal(ownerMessageRoute(on)(notice), 'alert', notice);
    const kindOff = alertsSchema.parse({ events: { [ALERT_KIND_OF[notice]]: false } });
    assert.equal(ownerMessageRoute(kindOff)(notice), 'legacy', `${notice} with ${ALERT_KIND_OF[notice]} off`);
    assert.equal(ownerMessageRoute(alertsSchema.parse({ enabled: false }))(notice), 'legacy', `${notice} with alerts off`);
    // Another kind switched off changes nothing for this notice.
    const other = ALERT_KIND_OF[notice] === 'new_browser' ? 'lockout' : 'new_browser';
    assert.equal(ownerMessageRoute(alertsSchema.parse({ events: { [other]: false } }))(notice), 'alert', notice);
    assert.equal(ownerMessageRoute(null)(notice), 'legacy', `${notice} without alerts (the CLI)`);
    assert.equal(LEGACY_ONLY(notice), 'legacy');
  }
});
