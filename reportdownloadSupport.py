"""Report files as the suite fetches them: which of the files asked for are ready (one
list call for many), and their download verified against the listed md5. When to poll is
reportRunScheduler's; reading files back is readwrite's."""

import readwrite
import reportdownloadAPI


def ready_files(session, file_ids, chunk=100):
    """({fileID: list item} of those of `file_ids` that are ready, [the fileIDs Index
    Exchange listed in a form that is not an integer]): one list call per `chunk` files
    (the list answers only for files that are ready)."""
    wanted = [int(f) for f in file_ids]
    ready, malformed = {}, []
    for start in range(0, len(wanted), chunk):
        part = set(wanted[start:start + chunk])
        for item in reportdownloadAPI.list_files(session, file_ids=sorted(part)):
            file_id = item.get("fileID")
            if type(file_id) is not int:
                malformed.append(file_id)
            elif file_id in part:
                ready[file_id] = item
    return ready, malformed


def download_verified(session, item, path, attempts=2):
    """Download a listed report file to `path`, checked against the list's md5."""
    file_id = item["fileID"]
    return readwrite.fetch_verified(lambda target: reportdownloadAPI.download_file(session, file_id, target), path,
                          item.get("hash"), f"file {file_id}", attempts)
