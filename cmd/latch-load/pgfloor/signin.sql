-- One passkey sign-in's statements, as a Latch node on PostgreSQL sends
-- them (store/postgres, pg_stat_statements of a sign-in load), without
-- Latch: the ceremony put at begin; at finish its take, the DPoP proof's
-- spend, the read-only lookup of the account with its passkeys (one
-- joined read), and the write transaction (passkey re-read and counter;
-- the account with its second factor and back-off in one read; the
-- session, the audit event). Audit chaining, which Latch shares among
-- concurrent sign-ins, is left out, so the figure is a floor. pgbench
-- sends each statement in a round trip of its own, where Latch pipelines
-- the writes.
\set u random(1, 1000)
\set n random(1, 4000000000000)
INSERT INTO pending (id, expires_ns, rec) VALUES (int8send((:n)::bigint), :n, convert_to(repeat('p', 300), 'UTF8')) ON CONFLICT (id) DO UPDATE SET rec = excluded.rec;
DELETE FROM pending WHERE id = int8send((:n)::bigint) RETURNING rec;
INSERT INTO spent (key, until_ns) VALUES (int8send((:n)::bigint), :n) ON CONFLICT (key) DO NOTHING;
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT u.rec, c.rec FROM users u LEFT JOIN credentials c ON c.user_id = u.id WHERE u.handle = int8send(-(:u)::bigint);
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT rec FROM credentials WHERE id = int8send((:u)::bigint);
UPDATE credentials SET rec = rec WHERE id = int8send((:u)::bigint);
SELECT u.rec, t.rec, f.rec FROM users u LEFT JOIN totp t ON t.user_id = u.id LEFT JOIN signin_failures f ON f.user_id = u.id WHERE u.id = int8send((:u)::bigint);
INSERT INTO sessions (id, user_id, expires_ns, rec) VALUES (int8send((:n)::bigint), int8send((:u)::bigint), :n, convert_to(repeat('s', 250), 'UTF8'));
INSERT INTO audit_queue (rec) VALUES (convert_to(repeat('a', 150), 'UTF8'));
COMMIT;
