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
  Each row also keeps its line of the report as JSON (`line_json`, a generated column:
  PostgreSQL writes it anew whenever the row changes), and an index in the report's order
  (`customer_buckets_in_report_order`): the report of ten thousand customers then formats
  and sorts nothing.
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

import json
import re

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


def report_line_json(labels: tuple[str, ...], line_key: str, name: str) -> str:
    """SQL: a row of the aging report's lines (columns currency, open_amount, open_items,
    b0, b1, ...: one per label) as its JSON text, with the line named `name` (SQL, JSON
    already) under `line_key`. By concatenation: json_build_object looks up every
    argument's type for every line, twice as slow. Amounts are numerals and currencies
    ISO codes: only the name needs escaping."""
    buckets = ", ".join(f'{json.dumps(label)}: "$b{index}"' for index, label in enumerate(labels))
    return _concatenation(
        '{"currency": "$currency", "open_amount": "$open_amount", "open_items": $open_items, '
        f'"buckets": {{{buckets}}}, {json.dumps(line_key)}: $name}}', name=name)


def _concatenation(template: str, **expressions: str) -> str:
    """SQL: `template` as a concatenation of text, each $word in it replaced by the
    expression `expressions` names so, or else by the column of that name as text."""
    parts = re.split(r"\$(\w+)", template)  # text, word, text, word, ..., text
    return " || ".join(expressions.get(part, f"{part}::text") if index % 2 else
                       "'" + part.replace("'", "''") + "'"
                       for index, part in enumerate(parts) if part)


# A generated column takes IMMUTABLE functions only, and to_json is STABLE (for some types
# its text follows settings; never for text). Most ids need no escaping (no quote,
# backslash or control character): quoting them inline saves a function call per write.
_CUSTOMER_ID_JSON = ("CASE WHEN customer_id ~ '[\\x01-\\x1f\"\\\\]' "
                     "THEN {schema}.json_string(customer_id) "
                     "ELSE '\"' || customer_id || '\"' END")
_LINE_JSON_COLUMN = "line_json text GENERATED ALWAYS AS ({}) STORED".format(
    # The JSON's braces doubled, to come through the DDL's format(schema=...) as they are.
    report_line_json(DEFAULT_BUCKETS.labels(), "customer_id", _CUSTOMER_ID_JSON)
    .replace("{", "{{").replace("}", "}}").replace("{{schema}}", "{schema}"))

TABLES_DDL = "".join(_open_by_day_table(day) for day in DAY_COLUMNS) + f"""
CREATE OR REPLACE FUNCTION {{schema}}.json_string(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT to_json(value)::text $$;
CREATE TABLE IF NOT EXISTS {{schema}}.customer_buckets (
    tenant      text    NOT NULL,
    customer_id text    NOT NULL,
    currency    text    NOT NULL,
    as_of       date    NOT NULL,
    open_amount numeric NOT NULL,
    open_items  bigint  NOT NULL,
    {", ".join(f"{column} numeric NOT NULL" for column in BUCKETS)},
    {_LINE_JSON_COLUMN},
    PRIMARY KEY (tenant, customer_id, currency)
);
DO $$ BEGIN  -- a table from before the kept lines gets them (written for every row at once)
    IF NOT EXISTS (SELECT FROM pg_attribute WHERE attname = 'line_json'
                   AND attrelid = '{{schema}}.customer_buckets'::regclass) THEN
        ALTER TABLE {{schema}}.customer_buckets ADD COLUMN {_LINE_JSON_COLUMN};
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS customer_buckets_in_report_order
    ON {{schema}}.customer_buckets (tenant, currency, customer_id);""" + """
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

# ---------------------------------------------------------------------------------------------
# The triggers: one per table and kind of statement, run once per statement over its
# transition tables. The consumer applies events in batches (libs/runtime/projection.py),
# so N new items cost a few set-based statements here, not N times eight row-by-row ones.
# Every upsert takes its rows in key order (ORDER BY): one order for any writer.

_CHANGE_COLUMNS = "tenant, currency, customer_id, due_date, issue_date, amount, items"


def _signed(item: str, sign: str) -> str:
    return (f"{item}.tenant, {item}.currency, {item}.customer_id, {item}.due_date, "
            f"{item}.issue_date, {sign}{item}.open_amount, {sign}1")


# The open items a statement changed, as signed rows: an item leaving the aggregates counts
# -1 and minus its open amount, one entering +1 and plus (a settled item is in none).
_OPEN_ITEM_CHANGES = {
    "INSERT": f"SELECT {_signed('item', '')} FROM new_items AS item WHERE open_amount <> 0",
    "DELETE": f"SELECT {_signed('item', '-')} FROM old_items AS item WHERE open_amount <> 0",
    "UPDATE": f"""
        SELECT side.* FROM old_items AS was JOIN new_items AS item USING (tenant, invoice_id),
        LATERAL (VALUES ({_signed('was', '-')}), ({_signed('item', '')}))
            AS side({_CHANGE_COLUMNS})
        WHERE side.amount <> 0
          AND (was.customer_id, was.currency, was.due_date, was.issue_date, was.open_amount)
              IS DISTINCT FROM (item.customer_id, item.currency, item.due_date,
                                item.issue_date, item.open_amount)""",
}


def _upsert_then_drop_empty(table: str, upsert: str, empty: str) -> str:
    """plpgsql: an INSERT ... ON CONFLICT DO UPDATE into `table`, then the rows it left
    `empty` deleted, as FILL makes none. Found by the ctid the upsert returns: no second
    look-up by key, so no plan that could scan the table."""
    return f"""
    WITH counted AS ({upsert}
        RETURNING ctid, {empty} AS empty)
    SELECT array_agg(ctid) FILTER (WHERE empty) INTO emptied FROM counted;
    IF emptied IS NOT NULL THEN
        DELETE FROM {table} WHERE ctid = ANY(emptied);
    END IF;"""


def _add_to_open_by_day(day: str, changes: str) -> str:
    return _upsert_then_drop_empty(f"open_by_{day}", f"""
    INSERT INTO open_by_{day} AS total
    SELECT tenant, currency, customer_id, {day}, sum(amount), sum(items) FROM {changes}
    GROUP BY tenant, customer_id, currency, {day}
    ORDER BY tenant, customer_id, currency, {day}
    ON CONFLICT (tenant, customer_id, currency, {day}) DO UPDATE
    SET open_amount = total.open_amount + EXCLUDED.open_amount,
        open_items = total.open_items + EXCLUDED.open_items""", "open_items = 0")


def _add_to_customer_buckets(changes: str) -> str:
    def aged_as_of_row(index: int) -> str:  # the row's changes in bucket `index` on its date
        return (f"(SELECT coalesce(sum(amount), 0) FROM {changes} "
                "WHERE (tenant, customer_id, currency) "
                "= (EXCLUDED.tenant, EXCLUDED.customer_id, EXCLUDED.currency) "
                f"AND {_bucket_of('due_date', 'snapshot.as_of')} = {index})")

    aged_today = _bucket_amounts("due_date", "CURRENT_DATE", "amount")
    return _upsert_then_drop_empty("customer_buckets", f"""
    -- A new row is aged as of today; an existing row ages the changes as of its own date
    -- (today, unless it waits to be rolled forward: then they are aged again for it).
    INSERT INTO customer_buckets AS snapshot
    SELECT tenant, customer_id, currency, CURRENT_DATE, sum(amount), sum(items),
           {", ".join(f"sum({amount})" for amount in aged_today)}
    FROM {changes}
    GROUP BY tenant, customer_id, currency ORDER BY tenant, customer_id, currency
    ON CONFLICT (tenant, customer_id, currency) DO UPDATE
    SET open_amount = snapshot.open_amount + EXCLUDED.open_amount,
        open_items = snapshot.open_items + EXCLUDED.open_items,
        {", ".join(f"{column} = snapshot.{column} + CASE WHEN snapshot.as_of = EXCLUDED.as_of "
                   f"THEN EXCLUDED.{column} ELSE {aged_as_of_row(index)} END"
                   for index, column in enumerate(BUCKETS))}""", "open_items = 0")


def _add_to_receivable_days(movements: str) -> str:
    """`movements`: a query of rows (tenant, currency, day, invoiced, settled, changed)."""
    return _upsert_then_drop_empty("receivable_days", f"""
    INSERT INTO receivable_days AS total
    SELECT tenant, currency, day, sum(invoiced), sum(settled), sum(changed)
    FROM ({movements}) AS movement(tenant, currency, day, invoiced, settled, changed)
    GROUP BY tenant, currency, day ORDER BY tenant, currency, day
    ON CONFLICT (tenant, currency, day) DO UPDATE
    SET invoiced = total.invoiced + EXCLUDED.invoiced,
        settled = total.settled + EXCLUDED.settled,
        changed = total.changed + EXCLUDED.changed""", "(invoiced, settled, changed) = (0, 0, 0)")


def _count_open_items(event: str) -> str:
    changes = f"({_OPEN_ITEM_CHANGES[event]}) AS change({_CHANGE_COLUMNS})"
    body = "".join(_add_to_open_by_day(day, changes) for day in DAY_COLUMNS)
    body += _add_to_customer_buckets(changes)
    if event == "INSERT":  # what was invoiced, and changes recorded before their item
        body += _add_to_receivable_days("""
        SELECT tenant, currency, issue_date, original_amount, 0, 0 FROM new_items
        UNION ALL
        SELECT item.tenant, item.currency, change.changed_on, 0, 0, change.amount
        FROM new_items AS item, LATERAL (
            SELECT changed_on, amount FROM document_changes AS change
            WHERE (change.tenant, change.invoice_id) = (item.tenant, item.invoice_id)) AS change""")
    return body


_COUNT_SETTLEMENTS = {  # applications: what settled, on the day it did
    "INSERT": "SELECT tenant, currency, applied_on, 0, amount, 0 FROM new_applications",
    "DELETE": "SELECT tenant, currency, applied_on, 0, -amount, 0 FROM old_applications",
}

# A change to an invoice counts in its currency; one recorded before its invoice counts
# when the invoice arrives (above).
_COUNT_DOCUMENT_CHANGES = """
    SELECT change.tenant, item.currency, change.changed_on, 0, 0, change.amount
    FROM new_changes AS change, LATERAL (
        SELECT currency FROM open_items AS item
        WHERE (item.tenant, item.invoice_id) = (change.tenant, change.invoice_id)) AS item"""


_TRANSITION_TABLES = {"INSERT": ("new",), "UPDATE": ("old", "new"), "DELETE": ("old",)}


def _statement_trigger(table: str, event: str, rows: str, body: str) -> str:
    """`body` (plpgsql) run once after each `event` statement on `table` that changed rows,
    which it reads from the transition tables old_`rows` and new_`rows`."""
    name = f"count_{event.lower().rstrip('e')}ed_{table}"  # count_inserted_open_items
    ages = _TRANSITION_TABLES[event]
    transition = " ".join(f"{age.upper()} TABLE AS {age}_{rows}" for age in ages)
    changed = f"{ages[-1]}_{rows}"
    return f"""
CREATE OR REPLACE FUNCTION {{schema}}.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    emptied tid[];
BEGIN
    IF NOT EXISTS (SELECT FROM {changed}) THEN  -- e.g. a refresh that changed nothing
        RETURN NULL;
    END IF;{body}
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER {name} AFTER {event} ON {{schema}}.{table}
    REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.{name}();"""


TRIGGERS_DDL = """
-- The row-by-row triggers these replace.
DROP TRIGGER IF EXISTS count_open_item ON {schema}.open_items;
DROP TRIGGER IF EXISTS count_settlement ON {schema}.applications;
DROP TRIGGER IF EXISTS count_document_change ON {schema}.document_changes;
DROP FUNCTION IF EXISTS {schema}.count_open_item(), {schema}.count_settlement(),
    {schema}.count_document_change(), {schema}.add_open_days({schema}.open_items, int);
""" + "".join(
    _statement_trigger("open_items", event, "items", _count_open_items(event))
    for event in ("INSERT", "UPDATE", "DELETE")) + "".join(
    _statement_trigger("applications", event, "applications",
                       _add_to_receivable_days(movements))
    for event, movements in _COUNT_SETTLEMENTS.items()) + _statement_trigger(
    "document_changes", "INSERT", "changes", _add_to_receivable_days(_COUNT_DOCUMENT_CHANGES))

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
