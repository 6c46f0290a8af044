"""The daily token cap as one counter shared by every app server on a PostgreSQL database.

`PostgresDailyCounter` has the methods of `qwenchat.quotas.DailyCounter` and the same rules, kept in a
table with one row per day (`daily_tokens`, see `qwenchat.pg_migrations`):

- `reserve` is one statement, `UPDATE daily_tokens SET used = used + n WHERE day = $1 AND used + n <= cap
  RETURNING used`: two servers reserving at the same moment queue on the row, and together they never
  pass the cap.
- `settle` replaces the reservation by what the request really used (`used + actual - reserved`), on the
  reservation's day; a request that ran past midnight counts its tokens on the new day, as in memory.
- "Today" is the server's local date, as for the in-memory counter: run every server in one time zone.

While the database is away, `reserve` refuses (`quota.daily_unavailable`): with the shared counter out of
reach, nothing bounds what several servers could spend. A `settle` that cannot be written is kept and
written with the next call that reaches the database.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, datetime
from typing import Callable

import psycopg
from psycopg_pool import ConnectionPool

from qwenchat.database_url import redact, scrub
from qwenchat.migrations import UnknownMigrations
from qwenchat.pg_migrations import migrate
from qwenchat.quotas import DailyCounter, QuotaProblem, Reservation, _daily_problem

log = logging.getLogger(__name__)


class PostgresDailyCounter(DailyCounter):
    """Tokens used today by every server on this database (thread-safe; one per process)."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time, timeout: float = 2.5,
                 max_size: int = 4):
        super().__init__(clock)
        self._url, self.path = url, redact(url)
        self._unsettled: list[tuple[date, int]] = []  # (day, tokens to add) not yet written
        self._unsettled_lock = threading.Lock()
        # Opened in the background: construction never waits for (or fails on) the server.
        self._pool = ConnectionPool(url, min_size=1, max_size=max_size, open=True, timeout=timeout,
                                    kwargs={"autocommit": True, "connect_timeout": max(1, round(timeout)),
                                            "application_name": "qwenchat-daily"},
                                    check=ConnectionPool.check_connection, name="qwenchat-daily")

    def close(self) -> None:
        self._pool.close(timeout=1.0)

    def _date(self) -> date:
        return datetime.fromtimestamp(self._clock()).date()  # local time, as DailyCounter

    def _write(self, work):
        """Run `work(conn)` after any unsettled adjustments; None (logged) when the database is away."""
        try:
            with self._pool.connection() as conn:
                with self._unsettled_lock:
                    pending, self._unsettled = self._unsettled, []
                try:
                    for day, tokens in pending:
                        self._adjust(conn, day, tokens)
                except BaseException:
                    with self._unsettled_lock:
                        self._unsettled[:0] = pending
                    raise
                try:
                    return work(conn)
                except psycopg.errors.UndefinedTable:  # a fresh database no store has migrated yet
                    migrate(conn)
                    return work(conn)
        except (psycopg.Error, OSError, UnknownMigrations) as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            log.warning("daily token counter unavailable: %s (%s)", self.path, scrub(first, self._url)[:160])
            return None

    @staticmethod
    def _adjust(conn: psycopg.Connection, day: date, tokens: int) -> None:
        conn.execute("""INSERT INTO daily_tokens (day, used) VALUES (%s, GREATEST(%s, 0))
                        ON CONFLICT (day) DO UPDATE SET used = GREATEST(daily_tokens.used + %s, 0)""",
                     (day, tokens, tokens))

    def used(self) -> int:
        """Tokens spent today by every server, counting reservations still in flight (0 if unknown)."""
        day = self._date()
        row = self._write(lambda c: c.execute("SELECT used FROM daily_tokens WHERE day = %s", (day,)).fetchone())
        return int(row[0]) if row else 0

    def add(self, tokens: int) -> int:
        day, tokens = self._date(), max(0, int(tokens or 0))
        row = self._write(lambda c: c.execute(
            """INSERT INTO daily_tokens (day, used) VALUES (%s, %s)
               ON CONFLICT (day) DO UPDATE SET used = daily_tokens.used + excluded.used RETURNING used""",
            (day, tokens)).fetchone())
        if row is None:
            with self._unsettled_lock:
                self._unsettled.append((day, tokens))
            return tokens
        return int(row[0])

    def reserve(self, cap: int, tokens: int) -> "Reservation | QuotaProblem":
        day, tokens = self._date(), max(0, int(tokens or 0))

        def work(conn: psycopg.Connection):
            conn.execute("INSERT INTO daily_tokens (day, used) VALUES (%s, 0) ON CONFLICT (day) DO NOTHING", (day,))
            row = conn.execute(
                """UPDATE daily_tokens SET used = used + %s
                   WHERE day = %s AND (%s = 0 OR (used < %s AND used + %s <= %s)) RETURNING used""",
                (tokens, day, cap, cap, tokens, cap)).fetchone()
            if row is not None:
                return Reservation(tokens, day)
            used = conn.execute("SELECT used FROM daily_tokens WHERE day = %s", (day,)).fetchone()[0]
            return _daily_problem(cap, int(used), tokens)

        result = self._write(work)
        if result is None:
            return QuotaProblem("daily_tokens", "quota.daily_unavailable", {"limit": cap})
        return result

    def settle(self, reservation: Reservation, tokens: int) -> None:
        with self._lock:
            if reservation.settled:
                return
            reservation.settled = True
        tokens, today = max(0, int(tokens or 0)), self._date()
        if reservation.day == today:
            changes = [(today, tokens - reservation.tokens)]
        else:
            changes = [(today, tokens)] + ([(reservation.day, -reservation.tokens)] if reservation.day else [])

        def work(conn: psycopg.Connection) -> bool:
            with conn.transaction():
                for day, delta in changes:
                    self._adjust(conn, day, delta)
            return True

        if self._write(work) is None:
            with self._unsettled_lock:
                self._unsettled.extend(changes)
