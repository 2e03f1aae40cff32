-- The analysts' interface to the aging projection: documented views, read-only.
-- Tables underneath may change; these views keep their columns.

CREATE OR REPLACE VIEW aging.v_open_items AS
SELECT tenant, customer_id, invoice_id, invoice_number, order_id, currency,
       issue_date, due_date, original_amount, open_amount,
       greatest(current_date - due_date, 0) AS days_past_due
FROM aging.open_items
WHERE open_amount <> 0;
COMMENT ON VIEW aging.v_open_items IS
  'Every receivable document still open today, with its open amount in document currency.';

CREATE OR REPLACE VIEW aging.v_invoices AS
SELECT tenant, customer_id, invoice_id, invoice_number, order_id, currency,
       issue_date, due_date, original_amount, open_amount, settled_on,
       settled_on - issue_date AS days_to_settle,
       greatest(coalesce(settled_on, current_date) - due_date, 0) AS days_late,
       (settled_on IS NOT NULL AND settled_on <= due_date) AS paid_on_time
FROM aging.open_items;
COMMENT ON VIEW aging.v_invoices IS
  'Every invoice, open or settled: days to settle and days late (to today while open).';

CREATE OR REPLACE VIEW aging.v_aging_today AS
SELECT tenant, customer_id, currency,
       sum(open_amount) AS open_amount,
       sum(open_amount) FILTER (WHERE current_date - due_date <= 0) AS current,
       sum(open_amount) FILTER (WHERE current_date - due_date BETWEEN 1 AND 30) AS days_1_30,
       sum(open_amount) FILTER (WHERE current_date - due_date BETWEEN 31 AND 60) AS days_31_60,
       sum(open_amount) FILTER (WHERE current_date - due_date BETWEEN 61 AND 90) AS days_61_90,
       sum(open_amount) FILTER (WHERE current_date - due_date > 90) AS days_over_90
FROM aging.open_items
WHERE open_amount <> 0
GROUP BY tenant, customer_id, currency;
COMMENT ON VIEW aging.v_aging_today IS
  'Open balance per customer and currency in the standard buckets, by days past due today.';

CREATE OR REPLACE VIEW aging.v_payments_applied AS
SELECT tenant, application_id, payment_id, invoice_id, customer_id, currency, amount, applied_on
FROM aging.applications;
COMMENT ON VIEW aging.v_payments_applied IS
  'Every application of cash to an invoice, dated by the payment''s value date.';

CREATE OR REPLACE VIEW aging.v_unapplied_cash AS
SELECT tenant, payment_id, customer_id, currency, amount, value_date, reason
FROM aging.unapplied_cash;
COMMENT ON VIEW aging.v_unapplied_cash IS
  'Cash received that no invoice was matched to yet, with the reason.';

CREATE OR REPLACE VIEW aging.v_receivable_daily AS
WITH movements AS (
    SELECT tenant, currency, issue_date AS day, original_amount AS sales, 0::numeric AS collections
    FROM aging.open_items
    UNION ALL
    SELECT tenant, currency, applied_on, 0, amount FROM aging.applications
), daily AS (
    SELECT tenant, currency, day, sum(sales) AS credit_sales, sum(collections) AS collections
    FROM movements GROUP BY tenant, currency, day
), calendar AS (
    SELECT tenant, currency,
           generate_series(min(day), greatest(max(day), current_date), interval '1 day')::date AS day
    FROM daily GROUP BY tenant, currency
)
SELECT calendar.tenant, calendar.currency, calendar.day,
       coalesce(daily.credit_sales, 0) AS credit_sales,
       coalesce(daily.collections, 0) AS collections,
       sum(coalesce(daily.credit_sales, 0) - coalesce(daily.collections, 0))
           OVER (PARTITION BY calendar.tenant, calendar.currency ORDER BY calendar.day) AS receivable
FROM calendar LEFT JOIN daily USING (tenant, currency, day);
COMMENT ON VIEW aging.v_receivable_daily IS
  'Per tenant, currency and day: credit sales, collections and the receivable at day end '
  '(from business dates). DSO over N days = receivable / sum(credit_sales over N days) x N.';
