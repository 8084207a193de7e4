"""Report files as the suite fetches them: wait until ready (polling with backoff), and
download them verified against the listed md5. Reading files back is readwrite's."""

import time

import readwrite
import reportdownloadAPI

FIRST_POLL_WAIT = 0.5
POLL_GROWTH = 1.5
MAX_POLL_WAIT = 15.0


def wait_for_file(session, file_id, max_wait, sleep=time.sleep, clock=time.monotonic):
    """The file's list item once it is ready, or None after `max_wait` seconds.

    Asks at once, then after 0.5 s, and 1.5 times longer each time (at most 15 s).
    """
    started = clock()
    delay = FIRST_POLL_WAIT
    while True:
        items = reportdownloadAPI.list_files(session, file_ids=[file_id])
        for item in items:
            if item["fileID"] == file_id:
                return item
        remaining = max_wait - (clock() - started)
        if remaining <= 0:
            return None
        sleep(min(delay, remaining))
        delay = min(delay * POLL_GROWTH, MAX_POLL_WAIT)


def ready_files(session, file_ids, chunk=100):
    """{fileID: list item} of those of `file_ids` that are ready: one list call per
    `chunk` files (the list answers only for files that are ready)."""
    wanted = [int(f) for f in file_ids]
    ready = {}
    for start in range(0, len(wanted), chunk):
        part = set(wanted[start:start + chunk])
        for item in reportdownloadAPI.list_files(session, file_ids=sorted(part)):
            if item.get("fileID") in part:
                ready[item["fileID"]] = item
    return ready


def download_verified(session, item, path, attempts=2):
    """Download a listed report file to `path`, checked against the list's md5."""
    file_id = item["fileID"]
    return readwrite.fetch_verified(lambda target: reportdownloadAPI.download_file(session, file_id, target), path,
                          item.get("hash"), f"file {file_id}", attempts)
