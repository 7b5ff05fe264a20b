-- The export of every tenant (store.Store.Export with no tenant) reads the
-- whole table in seq order, one keyset batch at a time. The primary key
-- leads with the tenant, so without an index of seq alone every batch
-- scanned and sorted the rest of the table: 200,000 profiles took 4.5 s,
-- a time that grows with the square of the table. With it, each batch is a
-- range of this index. seq only ever grows, so its inserts all land on the
-- index's last page, and no update touches it.
CREATE UNIQUE INDEX profiles_seq ON profiles (seq);
