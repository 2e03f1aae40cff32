"""Aggregates kept beside the open items, in the same transaction, so that reports over
millions of items read a few thousand rows.

- `open_by_due_date`, `open_by_issue_date`: what is open today per tenant, currency,
  customer and day. Day rows never move; the report puts them into buckets when it is
  asked (buckets move with time). Keyed by customer first: one customer's rows (a few
  thousand days at most, however many items) are one index range.
- `customer_buckets`: per tenant, customer and currency, what is open, aged into the
  default buckets (`DEFAULT_BUCKETS`, by due date) as of the row's `as_of` date. Today's
  aging of every customer is then one row each. When the date moves on, a reader rolls
  the rows forward from `open_by_due_date` (`LOCK_STALE_BUCKETS`, `ROLL_BUCKETS`); until
  then it computes a stale row's buckets from there itself, so no answer is ever stale.
- `receivable_days`: per tenant, currency and business day, what was invoiced, settled
  and changed. Credit sales over a period and the receivable on any date (the running
  sum) come from it, so DSO needs no scan of the items.

Triggers keep them: whichever handler changes an open item, an application or a
document change, the aggregate follows in its transaction. Their bodies name tables
unqualified, so they write into the schema the writer's `search_path` names (see
libs/runtime/projection.py), which stays right after a rebuild renames the schema.
`FILL` computes them from the tables at once, for a rebuild or a first start.
"""

from __future__ import annotations

from .buckets import DEFAULT_BUCKETS, sql_bucket_index

DAY_COLUMNS = ("due_date", "issue_date")  # open_by_due_date, open_by_issue_date


def _open_by_day_table(day: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {{schema}}.open_by_{day} (
    tenant      text    NOT NULL,
    currency    text    NOT NULL,
    customer_id text    NOT NULL,
    {day:<11} date    NOT NULL,
    open_amount numeric NOT NULL,
    open_items  bigint  NOT NULL,
    PRIMARY KEY (tenant, customer_id, currency, {day})
);
DO $$ BEGIN  -- a table from before the key led with the customer gets the new key
    IF (SELECT pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = '{{schema}}.open_by_{day}'::regclass AND contype = 'p')
       LIKE 'PRIMARY KEY (tenant, currency, %' THEN
        ALTER TABLE {{schema}}.open_by_{day} DROP CONSTRAINT open_by_{day}_pkey,
            ADD PRIMARY KEY (tenant, customer_id, currency, {day});
    END IF;
END $$;"""


def _add_to_open_by_day(day: str) -> str:
    """plpgsql: add `sign` times the item to its day row; drop the row once it is empty."""
    return f"""
    INSERT INTO open_by_{day} AS day
    VALUES (item.tenant, item.currency, item.customer_id, item.{day},
            sign * item.open_amount, sign)
    ON CONFLICT (tenant, customer_id, currency, {day}) DO UPDATE
    SET open_amount = day.open_amount + EXCLUDED.open_amount,
        open_items = day.open_items + EXCLUDED.open_items;
    DELETE FROM open_by_{day}
    WHERE (tenant, currency, customer_id, {day})
          = (item.tenant, item.currency, item.customer_id, item.{day})
      AND open_items = 0;"""


# customer_buckets' columns b0, b1, ...: the default buckets, youngest first.
BUCKETS = tuple(f"b{index}" for index in range(len(DEFAULT_BUCKETS.labels())))


def _bucket_of(due_date: str, as_of: str) -> str:
    return sql_bucket_index(due_date, as_of, DEFAULT_BUCKETS)


def _bucket_amounts(due_date: str, as_of: str, amount: str) -> list[str]:
    """SQL, one per bucket column: `amount` in the column of its bucket, else 0."""
    return [f"CASE WHEN {_bucket_of(due_date, as_of)} = {index} THEN {amount} ELSE 0 END"
            for index in range(len(BUCKETS))]


# Open amounts of rows with a `bucket` column (a default bucket's index) summed per bucket.
BUCKET_SUMS = ", ".join(f"coalesce(sum(open_amount) FILTER (WHERE bucket = {index}), 0) "
                        f"AS {column}" for index, column in enumerate(BUCKETS))

_ADD_TO_CUSTOMER_BUCKETS = f"""
    -- A new row is aged as of today; an existing row ages the item as of its own date.
    INSERT INTO customer_buckets AS snapshot
    VALUES (item.tenant, item.customer_id, item.currency, CURRENT_DATE,
            sign * item.open_amount, sign,
            {", ".join(_bucket_amounts("item.due_date", "CURRENT_DATE",
                                       "sign * item.open_amount"))})
    ON CONFLICT (tenant, customer_id, currency) DO UPDATE
    SET open_amount = snapshot.open_amount + EXCLUDED.open_amount,
        open_items = snapshot.open_items + EXCLUDED.open_items,
        {", ".join(f"{column} = snapshot.{column} + {amount}" for column, amount in zip(
            BUCKETS, _bucket_amounts("item.due_date", "snapshot.as_of",
                                     "sign * item.open_amount")))};
    DELETE FROM customer_buckets
    WHERE (tenant, customer_id, currency) = (item.tenant, item.customer_id, item.currency)
      AND open_items = 0;"""

TABLES_DDL = "".join(_open_by_day_table(day) for day in DAY_COLUMNS) + f"""
CREATE TABLE IF NOT EXISTS {{schema}}.customer_buckets (
    tenant      text    NOT NULL,
    customer_id text    NOT NULL,
    currency    text    NOT NULL,
    as_of       date    NOT NULL,
    open_amount numeric NOT NULL,
    open_items  bigint  NOT NULL,
    {", ".join(f"{column} numeric NOT NULL" for column in BUCKETS)},
    PRIMARY KEY (tenant, customer_id, currency)
);""" + """
CREATE TABLE IF NOT EXISTS {schema}.receivable_days (
    tenant   text    NOT NULL,
    currency text    NOT NULL,
    day      date    NOT NULL,
    invoiced numeric NOT NULL DEFAULT 0,
    settled  numeric NOT NULL DEFAULT 0,
    changed  numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, currency, day)
);
"""

TRIGGERS_DDL = """
CREATE OR REPLACE FUNCTION {schema}.add_open_days(item {schema}.open_items, sign int)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN""" + "".join(_add_to_open_by_day(day) for day in DAY_COLUMNS) + _ADD_TO_CUSTOMER_BUCKETS + """
END $$;

CREATE OR REPLACE FUNCTION {schema}.count_open_item() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.open_amount <> 0 THEN
        PERFORM add_open_days(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.open_amount <> 0 THEN
        PERFORM add_open_days(NEW, 1);
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO receivable_days AS day (tenant, currency, day, invoiced)
        VALUES (NEW.tenant, NEW.currency, NEW.issue_date, NEW.original_amount)
        ON CONFLICT (tenant, currency, day) DO UPDATE
        SET invoiced = day.invoiced + EXCLUDED.invoiced;
        -- changes recorded before the item (count_document_change found no currency)
        INSERT INTO receivable_days AS day (tenant, currency, day, changed)
        SELECT NEW.tenant, NEW.currency, changed_on, sum(amount)
        FROM document_changes WHERE tenant = NEW.tenant AND invoice_id = NEW.invoice_id
        GROUP BY changed_on
        ON CONFLICT (tenant, currency, day) DO UPDATE SET changed = day.changed + EXCLUDED.changed;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION {schema}.count_settlement() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO receivable_days AS day (tenant, currency, day, settled)
        VALUES (OLD.tenant, OLD.currency, OLD.applied_on, -OLD.amount)
        ON CONFLICT (tenant, currency, day) DO UPDATE SET settled = day.settled + EXCLUDED.settled;
        DELETE FROM receivable_days  -- a day left with no movement goes, as FILL makes none
        WHERE (tenant, currency, day) = (OLD.tenant, OLD.currency, OLD.applied_on)
          AND invoiced = 0 AND settled = 0 AND changed = 0;
    ELSE
        INSERT INTO receivable_days AS day (tenant, currency, day, settled)
        VALUES (NEW.tenant, NEW.currency, NEW.applied_on, NEW.amount)
        ON CONFLICT (tenant, currency, day) DO UPDATE SET settled = day.settled + EXCLUDED.settled;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION {schema}.count_document_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO receivable_days AS day (tenant, currency, day, changed)
    SELECT NEW.tenant, item.currency, NEW.changed_on, NEW.amount
    FROM open_items AS item WHERE item.tenant = NEW.tenant AND item.invoice_id = NEW.invoice_id
    ON CONFLICT (tenant, currency, day) DO UPDATE SET changed = day.changed + EXCLUDED.changed;
    DELETE FROM receivable_days
    WHERE tenant = NEW.tenant AND day = NEW.changed_on
      AND invoiced = 0 AND settled = 0 AND changed = 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER count_open_item
    AFTER INSERT OR DELETE OR UPDATE OF open_amount ON {schema}.open_items
    FOR EACH ROW EXECUTE FUNCTION {schema}.count_open_item();
CREATE OR REPLACE TRIGGER count_settlement
    AFTER INSERT OR DELETE ON {schema}.applications
    FOR EACH ROW EXECUTE FUNCTION {schema}.count_settlement();
CREATE OR REPLACE TRIGGER count_document_change
    AFTER INSERT ON {schema}.document_changes
    FOR EACH ROW EXECUTE FUNCTION {schema}.count_document_change();
"""

# The aggregates computed from the tables at once: what the triggers keep, row for row.
FILL = "".join(f"""
INSERT INTO {{schema}}.open_by_{day}
SELECT tenant, currency, customer_id, {day}, sum(open_amount), count(*)
FROM {{schema}}.open_items WHERE open_amount <> 0
GROUP BY tenant, currency, customer_id, {day};""" for day in DAY_COLUMNS) + f"""
INSERT INTO {{schema}}.customer_buckets
SELECT tenant, customer_id, currency, CURRENT_DATE, sum(open_amount), sum(open_items),
       {BUCKET_SUMS}
FROM (SELECT *, {_bucket_of("due_date", "CURRENT_DATE")} AS bucket
      FROM {{schema}}.open_by_due_date) AS day
GROUP BY tenant, customer_id, currency;""" + """
INSERT INTO {schema}.receivable_days AS day (tenant, currency, day, invoiced, settled, changed)
SELECT tenant, currency, day, sum(invoiced), sum(settled), sum(changed)
FROM (
    SELECT tenant, currency, issue_date AS day, original_amount AS invoiced,
           0 AS settled, 0 AS changed
    FROM {schema}.open_items
    UNION ALL
    SELECT tenant, currency, applied_on, 0, amount, 0 FROM {schema}.applications
    UNION ALL
    SELECT change.tenant, item.currency, change.changed_on, 0, 0, change.amount
    FROM {schema}.document_changes AS change
    JOIN {schema}.open_items AS item USING (tenant, invoice_id)
) AS movements
GROUP BY tenant, currency, day
HAVING (sum(invoiced), sum(settled), sum(changed)) <> (0, 0, 0);
"""

# Rolling rows forward to a new date ($2) for a tenant ($1), in one transaction: first lock
# the rows aged on another date, skipping those a writer holds (a reader computes those
# itself; a later roll takes them). Then, in a statement that sees every change committed
# to them, age them again from the day rows. A writer waiting on a locked row adds its item
# as of the new date once the roll commits; one that has not reached it yet will.
LOCK_STALE_BUCKETS = """
SELECT customer_id, currency FROM {schema}.customer_buckets
WHERE tenant = $1 AND as_of <> $2 AND ($3::text IS NULL OR customer_id = $3)
FOR UPDATE SKIP LOCKED
"""

ROLL_BUCKETS = f"""
UPDATE {{schema}}.customer_buckets AS snapshot
SET as_of = $2, ({", ".join(BUCKETS)}) = ({", ".join(f"fresh.{column}" for column in BUCKETS)})
FROM (
    SELECT customer_id, currency, {BUCKET_SUMS}
    FROM (SELECT *, {_bucket_of("due_date", "$2::date")} AS bucket
          FROM {{schema}}.open_by_due_date
          WHERE tenant = $1 AND (customer_id, currency) IN (
                SELECT * FROM unnest($3::text[], $4::text[]))) AS day
    GROUP BY customer_id, currency
) AS fresh
WHERE snapshot.tenant = $1
  AND (snapshot.customer_id, snapshot.currency) = (fresh.customer_id, fresh.currency)
"""
