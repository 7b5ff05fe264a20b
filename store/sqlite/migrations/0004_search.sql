-- The $search index. A term matches a value that begins with the term's
-- text, or has it at the start of a word, words being separated by a space,
-- '-', '_' or '.' (odata.Search), ignoring ASCII case: a LIKE no index can
-- serve, so a search used to walk the tenant's rows until a page matched.
-- profiles_search is an FTS5 index of the three Searchable columns, which
-- sqlfilter.SearchMatch queries for the candidates of a search (every row
-- the LIKEs accept, and a few more), in seq order, a page at a time; the
-- LIKEs stay the exact test (store/sqlstore ListSQL).
--
-- Tokens: unicode61 splits at every character that is not a letter, a digit
-- or private use, which includes all four word separators (and the '+' of
-- a phone number), and folds case, including ASCII's; remove_diacritics 0
-- keeps 'é' from matching 'e', which the LIKE would refuse anyway. So a word
-- start of the LIKE is a token start here, and a value that matches a term
-- holds the term's tokens in a row, the last one as a prefix: the phrase
-- query "tok tok"* (detail=full keeps the positions a phrase needs).
--
-- External content: the index stores no copy of the values, it reads them
-- from profiles by seq (its rowid). The triggers keep it in step in the
-- transaction of every change; the UPDATE one fires only when one of the
-- three columns is SET (the store's UPDATE names only the columns it
-- changes), so a PATCH of jobTitle never touches it.
CREATE VIRTUAL TABLE profiles_search USING fts5(
    display_name, company_name, phone_number,
    content='profiles', content_rowid='seq',
    tokenize='unicode61 remove_diacritics 0',
    detail=full,
    -- Index entries for every token's first two and three characters: a
    -- short prefix such as "042" can begin ten thousand distinct words
    -- in a million profiles ("User 0420000" ...), and without these FTS5
    -- merges all of their entries before it returns the first match (65 %
    -- of a search's CPU at a million profiles); with them it reads the
    -- prefix's entries in rowid order and stops after the page.
    prefix='2 3'
);

INSERT INTO profiles_search (profiles_search) VALUES ('rebuild');

CREATE TRIGGER profiles_search_insert AFTER INSERT ON profiles BEGIN
    INSERT INTO profiles_search (rowid, display_name, company_name, phone_number)
        VALUES (NEW.seq, NEW.display_name, NEW.company_name, NEW.phone_number);
END;

CREATE TRIGGER profiles_search_delete AFTER DELETE ON profiles BEGIN
    INSERT INTO profiles_search (profiles_search, rowid, display_name, company_name, phone_number)
        VALUES ('delete', OLD.seq, OLD.display_name, OLD.company_name, OLD.phone_number);
END;

CREATE TRIGGER profiles_search_update AFTER UPDATE OF display_name, company_name, phone_number ON profiles BEGIN
    INSERT INTO profiles_search (profiles_search, rowid, display_name, company_name, phone_number)
        VALUES ('delete', OLD.seq, OLD.display_name, OLD.company_name, OLD.phone_number);
    INSERT INTO profiles_search (rowid, display_name, company_name, phone_number)
        VALUES (NEW.seq, NEW.display_name, NEW.company_name, NEW.phone_number);
END;
