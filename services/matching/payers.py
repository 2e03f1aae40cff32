"""Who paid: payer names compared with the customer master, pure and in memory.

Bank statements spell payers their own way: `ACME RETAIL B.V.`, `Acme Retail`, `Acme
Retial BV`, `Brasserie du Port SARL`. Names are reduced to their distinctive words
(legal forms, punctuation and accents dropped) and compared by shared character
characters in order, which forgives a typo but not a different company.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from difflib import SequenceMatcher
from dataclasses import dataclass
from decimal import Decimal

LEGAL_FORMS = frozenset("""
ag ab aps as asa bv bvba co company corp corporation cv eg ev gbr gesmbh gmbh group inc
incorporated kft kg kgaa lda llc llp lp ltd limited mbh nv oy oyj plc pte pty sa sab sac
sae sal sarl sas sasu se sl slu snc spa sp srl sro the ug und and of et zoo ohg eirl
""".split())

_NON_WORD = re.compile(r"[^a-z0-9]+")


def name_words(name: str) -> tuple[str, ...]:
    """The words that tell one company from another: `ACME Retail B.V.` -> (acme, retail)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    ascii_name = ascii_name.replace("&", " ").replace(".", "")
    words = [word for word in _NON_WORD.split(ascii_name) if word and word not in LEGAL_FORMS]
    return tuple(words)


def similarity(left: str, right: str) -> Decimal:
    """How alike two names' words are, 0.00 to 1.00: twice the characters they share in
    order over their total length (a typo costs little, a missing word a lot)."""
    if left == right:
        return Decimal("1.00")
    ratio = SequenceMatcher(None, left, right, autojunk=False).ratio()
    return Decimal(round(ratio * 100)) / 100


def normal_account(account: str | None) -> str | None:
    """An IBAN or account number without spaces, upper case."""
    if not account:
        return None
    compact = re.sub(r"[^A-Za-z0-9]", "", account).upper()
    return compact or None


@dataclass(frozen=True, slots=True)
class NameMatch:
    customer_id: str
    customer_name: str
    score: Decimal
    runner_up: Decimal
    close: tuple[tuple[str, Decimal], ...] = ()  # the best candidates, best first


class NameIndex:
    """The customer master's names, searchable by the payer name on a bank line.

    Candidates come from pairs of adjacent words first ("royal optics"), then from
    single words shared, then from words that start alike (a typo in every word); only
    the few best candidates are compared character by character.
    """

    CANDIDATES = 8

    def __init__(self) -> None:
        self._names: dict[str, tuple[str, str]] = {}       # customer id -> (name, words)
        self._by_words: dict[str, list[str]] = {}          # joined words -> customer ids
        self._by_pair: dict[str, list[str]] = {}           # two adjacent words -> ids
        self._by_word: dict[str, list[str]] = {}           # one word -> customer ids
        self._by_start: dict[str, list[str]] = {}          # first 3 letters of a word -> ids
        self._answers: dict[str, NameMatch | None] = {}

    def __len__(self) -> int:
        return len(self._names)

    def name_of(self, customer_id: str) -> str | None:
        entry = self._names.get(customer_id)
        return entry[0] if entry else None

    @staticmethod
    def _keys(words: tuple[str, ...] | list[str]) -> tuple[list[str], list[str], list[str]]:
        pairs = list(dict.fromkeys(f"{a} {b}" for a, b in zip(words, words[1:])))
        singles = list(dict.fromkeys(words))
        starts = list(dict.fromkeys(word[:3] for word in words if len(word) >= 4))
        return pairs, singles, starts

    def upsert(self, customer_id: str, name: str) -> None:
        if customer_id in self._names:
            self._forget(customer_id)
        words = name_words(name)
        joined = " ".join(words)
        self._names[customer_id] = (name, joined)
        self._by_words.setdefault(joined, []).append(customer_id)
        pairs, singles, starts = self._keys(words)
        for index, keys in ((self._by_pair, pairs), (self._by_word, singles),
                            (self._by_start, starts)):
            for key in keys:
                index.setdefault(key, []).append(customer_id)
        self._answers.clear()

    def _forget(self, customer_id: str) -> None:
        _, joined = self._names.pop(customer_id)
        self._by_words[joined].remove(customer_id)
        pairs, singles, starts = self._keys(joined.split())
        for index, keys in ((self._by_pair, pairs), (self._by_word, singles),
                            (self._by_start, starts)):
            for key in keys:
                index[key].remove(customer_id)

    def best(self, payer_name: str) -> NameMatch | None:
        """The customer whose name is closest to the payer's, with the score of the next
        closest (a match is only as good as its distance to the runner-up)."""
        words = name_words(payer_name)
        if not words:
            return None
        joined = " ".join(words)
        if joined in self._answers:
            return self._answers[joined]
        answer = self._best(words, joined)
        if len(self._answers) > 100_000:
            self._answers.clear()
        self._answers[joined] = answer
        return answer

    def _best(self, words: tuple[str, ...], joined: str) -> NameMatch | None:
        exact = self._by_words.get(joined, [])
        if len(exact) == 1:
            customer_id = exact[0]
            return NameMatch(customer_id, self._names[customer_id][0], Decimal("1.00"),
                             Decimal("0.00"))
        if len(exact) > 1:
            # Two customers with the same name: the name alone cannot tell them apart.
            return NameMatch(exact[0], self._names[exact[0]][0], Decimal("1.00"),
                             Decimal("1.00"), tuple((customer_id, Decimal("1.00"))
                                                    for customer_id in exact))
        pairs, singles, starts = self._keys(words)
        shared: Counter[str] = Counter()  # customer id -> keys in common (counted in C)
        for index, keys in ((self._by_pair, pairs), (self._by_word, singles)):
            for key in keys:
                shared.update(index.get(key, ()))
            if shared:
                break  # adjacent word pairs found candidates: single words add only noise
        if not shared:
            for key in starts:
                shared.update(self._by_start.get(key, ()))
        if not shared:
            return None
        best_count = max(shared.values())
        # Everyone sharing as many words as the best (the first 64 by id); a cheap upper
        # bound picks the few worth comparing character by character.
        pool = sorted(customer_id for customer_id, count in shared.items()
                      if count == best_count)[:64]
        if len(pool) > self.CANDIDATES:
            # The bound counts the characters both names share, whichever comes first: one
            # matcher holds the payer's name and takes each candidate in turn.
            matcher = SequenceMatcher(None, autojunk=False)
            matcher.set_seq2(joined)
            bounds = []
            for customer_id in pool:
                matcher.set_seq1(self._names[customer_id][1])
                bounds.append((-matcher.quick_ratio(), customer_id))
            bounds.sort()
            pool = [customer_id for _, customer_id in bounds[:self.CANDIDATES]]
        scored = sorted(((similarity(joined, self._names[customer_id][1]), customer_id)
                         for customer_id in pool), key=lambda pair: (-pair[0], pair[1]))
        score, customer_id = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else Decimal("0.00")
        return NameMatch(customer_id, self._names[customer_id][0], score, runner_up,
                         tuple((candidate, value) for value, candidate in scored[:4]))
