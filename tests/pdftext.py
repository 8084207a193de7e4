"""The text of a PDF, with poppler's pdftotext (Debian's poppler-utils, installed when
missing and we are root, as in CI)."""

import os
import shutil
import subprocess


def ensure_installed():
    if shutil.which("pdftotext"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError("pdftotext is not installed; as root run: apt-get install poppler-utils")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "poppler-utils"], check=True,
                   env=env, stdout=subprocess.DEVNULL)


def pdf_text(data):
    ensure_installed()
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
