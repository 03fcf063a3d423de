"""COPY FROM STDIN fed by a generator of text, so formatting overlaps the server's parsing."""

from collections.abc import Iterable, Iterator

COPY_READ_SIZE = 65536  # bytes psycopg2 asks for per read; the server parses one while we format the next


class LineReader:
    """A file-like object producing COPY text lazily from an iterator of lines (or runs of lines)."""

    def __init__(self, lines: Iterable[str]):
        self.lines = iter(lines)
        self.pending = ""

    def read(self, size: int = -1) -> str:
        chunks, length = [self.pending], len(self.pending)
        # Nothing more is taken once `size` is reached: with runs longer than `size`, taking one
        # per read would grow `pending` (and the copying of it) without end.
        while size <= 0 or length < size:
            line = next(self.lines, None)
            if line is None:
                break
            chunks.append(line)
            length += len(line)
        text = "".join(chunks)
        if size > 0:
            text, self.pending = text[:size], text[size:]
        else:
            self.pending = ""
        return text

    readline = read


def copy_lines(cursor, sql: str, lines: Iterator[str]) -> None:
    """Run `sql` (a COPY ... FROM STDIN) on a Django cursor, streaming `lines` to it."""
    cursor.copy_expert(sql, LineReader(lines), COPY_READ_SIZE)
