"""``cnnlessons doctor``: versions, the device, and whether the online extras are reachable."""
from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

from .lessons import all_lessons
from .runs import shown


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def check_reachable(url: str, timeout: float = 3.0) -> str:
    """``"reachable"`` or why not, within ``timeout`` seconds (DNS included: the check runs in
    a daemon thread that is abandoned when the time is up, so it never hangs)."""
    import urllib.error
    import urllib.request

    result: list[str] = []

    def probe() -> None:
        try:
            request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "cnnlessons-doctor"})
            with urllib.request.urlopen(request, timeout=timeout):
                result.append("reachable")
        except urllib.error.HTTPError as exc:  # the server answered: the network path works
            result.append(f"reachable (HTTP {exc.code})")
        except Exception as exc:
            reason = getattr(exc, "reason", exc)
            result.append(f"unreachable ({type(reason).__name__}: {reason})" if str(reason) else "unreachable")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result[0] if result else f"unreachable (no answer within {timeout:g} s)"


def cmd_doctor(args: argparse.Namespace) -> int:
    import platform
    import shutil

    import torch

    from .. import __version__
    from ..device import get_device

    print(f"cnnlessons   {__version__} ({shown(Path(__file__).parent)})")
    print(f"python       {platform.python_version()} ({sys.executable})")
    print(f"platform     {platform.platform()}")
    for package in DOCTOR_PACKAGES:  # torch's own string also says which build (+cpu, +cu130)
        print(f"{package:<12} {torch.__version__ if package == 'torch' else _version(package)}")
    print()
    try:
        device = str(get_device("auto"))
    except Exception as exc:  # e.g. CNNLESSONS_DEVICE=cuda without CUDA
        device = f"ERROR: {exc}"
    print(f"device       auto -> {device}" + (f" (CNNLESSONS_DEVICE={os.environ['CNNLESSONS_DEVICE']})"
                                              if os.environ.get("CNNLESSONS_DEVICE") else ""))
    print(f"CPU threads  {torch.get_num_threads()} (of {os.cpu_count()} cores)")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            print(f"cuda:{i}       {props.name}, {props.total_memory / 2**30:.0f} GiB, "
                  f"compute capability {props.major}.{props.minor}")
        print(f"CUDA         {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
    else:
        print("CUDA         not available" + (f" (torch built for CUDA {torch.version.cuda})" if torch.version.cuda else ""))
    lessons = all_lessons()
    present = [lesson for lesson in lessons if lesson.notebook.is_file()]
    print(f"lessons      {len(lessons)} ({len(present)} notebooks present)")
    chromium = next((shutil.which(b) for b in ("chromium", "chromium-browser") if shutil.which(b)), None)
    print(f"browser      {chromium or 'no Chromium (the browser test will skip; scripts/install-browser.sh)'}")
    print()
    extras = online_extras()
    print(f"online extras (optional; each checked with a {args.timeout:g} s timeout):")
    results: dict[str, str] = {}
    threads = [threading.Thread(target=lambda u=url: results.__setitem__(u, check_reachable(u, args.timeout)),
                                daemon=True) for _, url, _ in extras]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(args.timeout + 1.0)
    for name, url, local in extras:
        kept = "already here" if local.exists() else "not downloaded"
        print(f"  {name}\n    {url}\n    {results.get(url, 'unreachable (no answer)')}; {kept} ({shown(local)})")
    return 0


def online_extras() -> list[tuple[str, str, Path]]:
    """The optional extras that need the internet once: (what, URL, where it is kept locally).
    URLs come from torchvision itself, so the check follows what the course would download."""
    import torch
    from torchvision import datasets
    from torchvision.models import ResNet18_Weights

    from ..data.online import online_dir

    ONLINE_DIR = online_dir()

    weights = ResNet18_Weights.IMAGENET1K_V1.url
    flowers = getattr(datasets.Flowers102, "_download_url_prefix", "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/")
    pets = getattr(datasets.OxfordIIITPet, "_RESOURCES", [("https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",)])[0][0]
    return [
        ("ImageNet ResNet-18 weights (zoo, transfer lesson)", weights,
         Path(torch.hub.get_dir()) / "checkpoints" / weights.rsplit("/", 1)[-1]),
        ("CIFAR-10 (transfer lesson, target='cifar10')", datasets.CIFAR10.url, ONLINE_DIR / "cifar10"),
        ("Flowers-102 (target='flowers102')", flowers, ONLINE_DIR / "flowers102"),
        ("Oxford-IIIT Pets (target='oxford_pets')", pets, ONLINE_DIR / "oxford_pets"),
    ]


DOCTOR_PACKAGES = ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "jupyterlab",
                   "papermill", "nbval", "nbconvert", "scikit-learn", "tqdm", "playwright")




DOCTOR_PACKAGES = ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "jupyterlab",
                   "papermill", "nbval", "nbconvert", "scikit-learn", "tqdm", "playwright")
