"""Reading document references out of what a payer wrote: pure, no I/O.

Payers write invoice numbers the way they like: `INV-000123`, `inv 123`, `Rechnung Nr.
000 123`, `123`, with a typo, or as an ISO 11649 RF creditor reference (`RF47 INV0 0012
3`). This module turns free text into candidate references; which of them name one of
our open items is the decision core's business (services/matching/engine.py).

A document number is compared in two normal forms:
- its *reference key*: letters and digits only, upper case, leading zeros of every digit
  group dropped (`INV-000123` -> `INV123`);
- its *digit key*: its digits only, leading zeros dropped (`INV-000123` -> `123`), for
  payers who leave the prefix out or write their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

# --- normal forms ------------------------------------------------------------------------

_NOT_ALNUM = re.compile(r"[^A-Z0-9]")
_DIGIT_RUN = re.compile(r"\d+")
_LEADING_LETTERS = re.compile(r"^[A-Z]+")


def reference_key(number: str) -> str:
    """`INV-000123` -> `INV123`: what stays when the noise is gone."""
    compact = _NOT_ALNUM.sub("", number.upper())
    return _DIGIT_RUN.sub(lambda run: run.group().lstrip("0") or "0", compact)


def digit_key(number: str) -> str:
    """`INV-000123` -> `123`; empty when the number has no digits."""
    digits = "".join(_DIGIT_RUN.findall(number))
    return digits.lstrip("0") or ("0" if digits else "")


def series_prefix(number: str) -> str:
    """`INV-000123` -> `INV`: the letters a document series starts with."""
    match = _LEADING_LETTERS.match(_NOT_ALNUM.sub("", number.upper()))
    return match.group() if match else ""


# --- ISO 11649 creditor references (RF) ---------------------------------------------------


def _as_digits(text: str) -> str:
    return "".join(str(int(char, 36)) for char in text)


def rf_check_digits(body: str) -> str:
    """The two check digits of an RF reference for `body` (ISO 11649: mod 97-10)."""
    remainder = int(_as_digits(body + "RF00")) % 97
    return f"{98 - remainder:02d}"


def rf_reference(number: str) -> str:
    """The RF creditor reference invoicing prints for a document number, in groups of
    four: `INV-000123` -> `RF23 INV0 0012 3`. The body is the number's letters and digits."""
    body = _NOT_ALNUM.sub("", number.upper())
    if not 1 <= len(body) <= 21:
        raise ValueError(f"{number!r} cannot be the body of an RF reference (1-21 characters)")
    compact = f"RF{rf_check_digits(body)}{body}"
    return " ".join(compact[index:index + 4] for index in range(0, len(compact), 4))


def rf_is_valid(reference: str) -> bool:
    compact = _NOT_ALNUM.sub("", reference.upper())
    if not re.fullmatch(r"RF\d{2}[A-Z0-9]{1,21}", compact):
        return False
    return int(_as_digits(compact[4:] + compact[:4])) % 97 == 1


# An RF reference may be written with spaces or dashes between any characters.
_RF = re.compile(r"\bR\s?F\s?(\d)\s?(\d)((?:[\s-]?[A-Z0-9]){1,21})")


@dataclass(frozen=True, slots=True)
class CreditorReference:
    written: str       # as the payer wrote it
    body: str          # the part after RF and the check digits
    valid: bool        # the check digits hold


def creditor_references(text_upper: str) -> list[CreditorReference]:
    """RF references in the text. When the check digits fail the reference is still
    returned (valid=False): its body may carry a typo the decision core can weigh."""
    found = []
    for match in _RF.finditer(text_upper):
        check = match.group(1) + match.group(2)
        pieces = re.split(r"[\s-]+", match.group(3).strip(" -"))
        best: CreditorReference | None = None
        # The reference ends at some word boundary; take the longest one that validates.
        for count in range(len(pieces), 0, -1):
            body = "".join(pieces[:count])
            if len(body) > 21:
                continue
            if rf_is_valid(f"RF{check}{body}"):
                best = CreditorReference(match.group(0).strip(), body, True)
                break
        if best is None:
            # A word of more than four letters is prose, not part of a reference.
            kept = []
            for piece in pieces:
                if piece.isalpha() and len(piece) > 4:
                    break
                kept.append(piece)
            body = "".join(kept)[:21]
            if body:
                best = CreditorReference(match.group(0).strip(), body, False)
        if best is not None:
            found.append(best)
    return found


# --- document numbers in free text ---------------------------------------------------------

INVOICE_WORDS = frozenset({
    "INV", "INVOICE", "INVOICES", "INVOICENO", "RECHNUNG", "RECHNUNGEN", "RECHNUNGSNR", "RG",
    "RE", "RGNR", "RNG", "FACTURE", "FACTURES", "FACT", "FACTURA", "FATTURA", "FACTUUR",
    "FAKTURA", "BILL", "DOC", "DOCUMENT", "NR", "NO", "NUMBER", "NUM", "NUMMER", "REF",
})
OTHER_WORDS = frozenset({
    "ORDER", "ORD", "PO", "AUFTRAG", "BESTELLUNG", "CUSTOMER", "CUST", "KUNDE", "KUNDENNR",
    "KD", "KDNR", "CLIENT", "ACCOUNT", "ACCT", "DEBTOR", "DEBITOR", "CONTRACT", "VERTRAG",
    "TEL", "PHONE", "FAX", "IBAN", "BIC", "ZIP", "POSTCODE", "VAT", "UST", "TAX", "KONTO",
})
_GENERIC_WORDS = frozenset({"NR", "NO", "NUMBER", "NUM", "NUMMER", "REF", "DOC", "DOCUMENT"})
CUSTOMER_WORDS = frozenset({
    "CUSTOMER", "CUST", "KUNDE", "KUNDENNR", "KD", "KDNR", "CLIENT", "ACCOUNT", "ACCT",
    "DEBTOR", "DEBITOR", "KONTO",
})

_TOKEN = re.compile(r"[A-Z]+|\d+")
# Amounts (1.234,56 / 121.00) and dates (20.03.2024) are numbers, but not documents.
_AMOUNT_OR_DATE = re.compile(
    r"\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,3}(?:[.,' ]\d{3})*[.,]\d{2}(?!\d)")


@dataclass(frozen=True, slots=True)
class NumberCandidate:
    written: str             # the characters as the payer wrote them
    prefix: str              # letters written right before the digits ('' if none)
    digits: str              # digit key: no leading zeros
    qualifier: str           # 'invoice', 'other' or '' - what the words before it say
    joined: bool = False     # digit groups the payer separated, read as one number
    structured: bool = False  # given as a structured reference, not found in prose

    @property
    def reference_key(self) -> str:
        return f"{self.prefix}{self.digits}"


class _Token(NamedTuple):  # a tuple: made for every word of every remittance text
    text: str
    start: int
    end: int

    @property
    def is_digits(self) -> bool:
        return self.text[0].isdigit()


def _masked(text_upper: str) -> str:
    """The text with amounts and dates blanked out (same length, so positions hold)."""
    if "." not in text_upper and "," not in text_upper and "/" not in text_upper and \
            text_upper.count("-") < 2:
        return text_upper  # no separator an amount or a date needs: spare the regex
    return _AMOUNT_OR_DATE.sub(lambda match: " " * len(match.group()), text_upper)


def number_candidates(text_upper: str, structured: bool = False,
                      min_digits: int = 3) -> list[NumberCandidate]:
    """Digit groups that may be document numbers, in the order written, once each."""
    masked = _masked(text_upper)
    if "RF" in masked:
        masked = _RF.sub(lambda match: " " * len(match.group()), masked)
    tokens = [_Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(masked)]
    candidates: list[NumberCandidate] = []
    seen: set[tuple[str, str, bool]] = set()

    def add(candidate: NumberCandidate) -> None:
        identity = (candidate.prefix, candidate.digits, candidate.joined)
        if candidate.digits and candidate.digits != "0" and identity not in seen:
            seen.add(identity)
            candidates.append(candidate)

    for index, token in enumerate(tokens):
        if not token.is_digits:
            continue
        if index > 0 and tokens[index - 1].is_digits and \
                masked[tokens[index - 1].end:token.start] in (" ", "-"):
            continue  # read as part of the group before it, below
        prefix, qualifier, written_start = _words_before(masked, tokens, index)
        group = [token]
        while index + len(group) < len(tokens) and tokens[index + len(group)].is_digits and \
                masked[group[-1].end:tokens[index + len(group)].start] in (" ", "-") and \
                len(group) < 4:
            group.append(tokens[index + len(group)])
        first = group[0]
        if len(first.text) >= min_digits or prefix:
            add(NumberCandidate(text_upper[written_start:first.end], prefix,
                                first.text.lstrip("0") or "0", qualifier, False, structured))
        for part in group[1:]:
            if len(part.text) >= min_digits:
                add(NumberCandidate(part.text, "", part.text.lstrip("0") or "0", "", False,
                                    structured))
        if len(group) > 1:
            joined = "".join(part.text for part in group)
            if len(joined) <= 14:
                add(NumberCandidate(text_upper[written_start:group[-1].end], prefix,
                                    joined.lstrip("0") or "0", qualifier, True, structured))
    return candidates


def _words_before(masked: str, tokens: list[_Token], index: int) -> tuple[str, str, int]:
    """The letters written right before a digit group (its prefix) and what the words
    before it say it is: an invoice, or something else (an order, a customer number)."""
    prefix = ""
    qualifier = ""
    written_start = tokens[index].start
    position = index - 1
    if position >= 0 and not tokens[position].is_digits:
        gap = masked[tokens[position].end:tokens[index].start]
        if len(gap) <= 2 and set(gap) <= set(" -#:./"):
            prefix = tokens[position].text
            written_start = tokens[position].start
            position -= 1
    words = [prefix] if prefix else []
    # up to two more words before: "Invoice No. 123", "Rechnung Nr 123"
    while position >= 0 and len(words) < 3 and not tokens[position].is_digits:
        gap = masked[tokens[position].end:tokens[position + 1].start] if position + 1 < len(tokens) else ""
        if len(gap) > 3:
            break
        words.append(tokens[position].text)
        position -= 1
    for word in words:  # nearest first; "No", "Nr" say nothing of what is numbered
        if word in OTHER_WORDS:
            qualifier = "other"
            break
        if word in INVOICE_WORDS and word not in _GENERIC_WORDS:
            qualifier = "invoice"
            break
        if word in _GENERIC_WORDS:
            qualifier = "invoice"  # unless a word before it says otherwise
    if prefix in INVOICE_WORDS - {"INV"} or prefix in OTHER_WORDS:
        prefix = ""  # a word, not a series prefix: "Invoice 123", "Order 4711"
    return prefix, qualifier, written_start


def customer_tokens(text_upper: str) -> tuple[list[str], list[str]]:
    """Keys that may be a customer number: runs of up to four adjacent words or numbers
    joined (`CUST-E2E-1` -> `CUSTE2E1`), and digit groups after a word such as 'customer'
    or 'Kd-Nr' (those alone are too easily an invoice or an order number)."""
    tokens = [_Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text_upper)]
    joined: list[str] = []
    for start in range(len(tokens)):
        key = ""
        for end in range(start, min(start + 4, len(tokens))):
            if end > start and len(text_upper[tokens[end - 1].end:tokens[end].start]) > 1:
                break
            key += tokens[end].text
            if len(key) >= 4 and any(char.isdigit() for char in key):
                joined.append(_DIGIT_RUN.sub(lambda run: run.group().lstrip("0") or "0", key))
    after_word: list[str] = []
    for index, token in enumerate(tokens):
        if token.is_digits and index > 0 and any(
                tokens[position].text in CUSTOMER_WORDS
                for position in range(max(0, index - 2), index)
                if not tokens[position].is_digits):
            after_word.append(token.text.lstrip("0") or "0")
    return joined, after_word


# --- one mistyped character ---------------------------------------------------------------

_DIGITS = "0123456789"


@lru_cache(maxsize=65_536)
def one_edit_variants(digits: str) -> tuple[str, ...]:
    """Every digit key one keystroke away: a digit replaced, two neighbours swapped, a
    digit dropped or one added. In a fixed order, without the key itself."""
    length = len(digits)
    variants: dict[str, None] = {}
    for position in range(length + 1):
        head, tail = digits[:position], digits[position:]
        for digit in _DIGITS:
            variants[head + digit + tail] = None                      # one added
            if position < length:
                variants[head + digit + tail[1:]] = None              # one replaced
        if position < length:
            variants[head + tail[1:]] = None                          # one dropped
            if position < length - 1:
                variants[head + tail[1] + tail[0] + tail[2:]] = None  # neighbours swapped
    variants.pop(digits, None)
    return tuple(dict.fromkeys(key for variant in variants
                               if (key := variant.lstrip("0")) and key != digits))
