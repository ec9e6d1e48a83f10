-- documentsCount comes from the payload as any whole number the JSON holds (core::CustomerFacts
-- keeps a 64-bit value, and SQLite's INTEGER stores it). INTEGER here would make applying such a
-- customer event fail on PostgreSQL where SQLite takes it; BIGINT keeps the two backends alike.
ALTER TABLE customers ALTER COLUMN documents_count TYPE BIGINT;
ALTER TABLE customer_history ALTER COLUMN documents_count TYPE BIGINT;
