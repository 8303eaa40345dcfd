-- The floor benchmark's accounts, in Latch's own schema: 1,000 users of
-- one passkey each, their handles apart from their ids.
INSERT INTO users (id, username, handle, rec)
	SELECT int8send(i), convert_to('floor-' || i, 'UTF8'), int8send(-i), convert_to(repeat('u', 200), 'UTF8') FROM generate_series(1, 1000) i;
INSERT INTO credentials (id, user_id, rec)
	SELECT int8send(i), int8send(i), convert_to(repeat('c', 300), 'UTF8') FROM generate_series(1, 1000) i;
