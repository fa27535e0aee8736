"""Drives the real huggingface_hub (and kernels, when installed) against kget-registry.

  hf_compat.py make-kernel DIR VER writes a kernel output directory (build/<variant>/...) to push
  hf_compat.py check DIR REPO      downloads REPO from $HF_ENDPOINT and compares it with DIR

`check` expects REPO to hold DIR at version 1.0.0 (tag v1.0.0, branch v1) and an older 0.9.0
(branch v0), pushed by hf_compat.sh. It exits non-zero on the first mismatch.
"""

import base64
import hashlib
import json
import os
import random
import sys
from pathlib import Path

CPU_VARIANT = "kget1-cpu-x86_64-linux"
CUDA_VARIANT = "kget1-cu130-x86_64-linux"


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def write_variant(directory: Path, variant: str, files: dict, cuda: bool, major: int) -> None:
    root = directory / "build" / variant
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    metadata = {
        "name": "compat",
        "id": "_compat_0000000",
        "version": major,
        "license": "Apache-2.0",
        "backend": {"type": "cuda", "archs": ["9.0a"]} if cuda else {"type": "cpu"},
        "digest": {"algorithm": "sha256", "files": {n: sha256_b64(d) for n, d in files.items()}},
        "kget": {
            "abi": {"major": 1, "minor": 0},
            "library": "libcompat.so",
            "ops": [{"name": "relu", "schema": "relu(Tensor! out, Tensor input) -> ()"}],
            "requires": {"symbol_versions": ["GLIBC_2.17"], "cpu_features": []},
        },
    }
    if cuda:
        metadata["kget"]["cuda"] = {"toolkit": "13.0", "min_driver": "13.0", "sass": ["sm_90a"],
                                    "ptx": []}
    (root / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")


def make_kernel(directory: Path, release: str) -> None:
    rng = random.Random(20261121)
    # 11 MiB of binary: an LFS file, served with X-Linked-Etag/X-Linked-Size.
    big = bytes(rng.getrandbits(8) for _ in range(4096)) * (11 * 256)
    write_variant(directory, CPU_VARIANT,
                  {"libcompat.so": big, "include/compat.h": f"/* {release} */\n".encode()},
                  cuda=False, major=int(release.split(".")[0]))
    write_variant(directory, CUDA_VARIANT,
                  {"libcompat.so": b"\x7fELF\x00cuda" * 100, "notes with space.txt": b"text\n"},
                  cuda=True, major=int(release.split(".")[0]))


def files_under(directory: Path) -> dict:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def expect(condition: bool, what: str) -> None:
    if not condition:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def check_huggingface_hub(source: Path, repo: str) -> None:
    import huggingface_hub as hub
    from huggingface_hub import HfApi, errors

    api = HfApi()
    expected = files_under(source)
    print(f"huggingface_hub {hub.__version__} against {os.environ['HF_ENDPOINT']}")

    refs = api.list_repo_refs(repo, repo_type="kernel")
    branches = {b.name: b.target_commit for b in refs.branches}
    tags = {t.name: t.target_commit for t in refs.tags}
    expect(set(branches) == {"main", "v0", "v1"}, f"list_repo_refs branches {sorted(branches)}")
    expect(set(tags) == {"v0.9.0", "v1.0.0"}, f"list_repo_refs tags {sorted(tags)}")
    commit = tags["v1.0.0"]
    expect(branches["v1"] == commit and branches["main"] == commit, "v1 and main at v1.0.0")

    tree = list(api.list_repo_tree(repo, repo_type="kernel", revision="v1", recursive=True))
    tree_files = {e.path: e for e in tree if isinstance(e, hub.hf_api.RepoFile)}
    expect(set(tree_files) == set(expected),
           f"list_repo_tree(recursive) lists the {len(expected)} pushed files across pages")
    for path, entry in tree_files.items():
        data = expected[path]
        sha256 = hashlib.sha256(data).hexdigest()
        # git holds an LFS file as its pointer, so the Hub's oid is that of the pointer.
        held = (b"version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n"
                % (sha256.encode(), len(data))) if entry.lfs is not None else data
        git_oid = hashlib.sha1(b"blob %d\0" % len(held) + held).hexdigest()
        expect(entry.size == len(data) and entry.blob_id == git_oid, f"tree size and oid of {path}")
        if entry.lfs is not None:
            expect(entry.lfs.sha256 == sha256 and entry.lfs.pointer_size == len(held),
                   f"lfs sha256 and pointer size of {path}")
    big = f"build/{CPU_VARIANT}/libcompat.so"
    expect(tree_files[big].lfs is not None, f"{big} is an LFS file")
    variants = list(api.list_repo_tree(repo, "build", repo_type="kernel", revision=commit))
    expect(sorted(v.path for v in variants) == [f"build/{CPU_VARIANT}", f"build/{CUDA_VARIANT}"],
           "non-recursive tree of build/ lists the variants, as kernels reads them")

    info = api.repo_info(repo, repo_type="kernel", revision="v1")
    expect(info.sha == commit, "repo_info(revision=v1).sha")

    cache = Path(os.environ["HF_HUB_CACHE"])
    snapshot = Path(hub.snapshot_download(repo, repo_type="kernel", revision="v1",
                                          allow_patterns=[f"build/{CPU_VARIANT}/*"]))
    expect(snapshot.name == commit, "snapshot folder is named by X-Repo-Commit")
    got = files_under(snapshot)
    want = {p: d for p, d in expected.items() if p.startswith(f"build/{CPU_VARIANT}/")}
    expect(got == want, f"snapshot_download(allow_patterns) is byte-identical ({len(want)} files)")
    expect((cache / f"kernels--{repo.replace('/', '--')}" / "refs" / "v1").read_text() == commit,
           "refs/v1 in the hub cache")

    for path in (f"build/{CUDA_VARIANT}/notes with space.txt", f"build/{CUDA_VARIANT}/libcompat.so"):
        local = hub.hf_hub_download(repo, path, repo_type="kernel", revision="v1.0.0")
        expect(Path(local).read_bytes() == expected[path], f"hf_hub_download {path}")
    # The model family, for older clients and mirrors, serves the same files.
    model = hub.hf_hub_download(repo, f"build/{CPU_VARIANT}/metadata.json", revision="v1",
                                cache_dir=str(cache / "models"))
    expect(Path(model).read_bytes() == expected[f"build/{CPU_VARIANT}/metadata.json"],
           "hf_hub_download through the model routes")
    old = hub.hf_hub_download(repo, f"build/{CPU_VARIANT}/metadata.json", repo_type="kernel",
                              revision="v0")
    expect(Path(old).read_bytes() != expected[f"build/{CPU_VARIANT}/metadata.json"],
           "branch v0 serves the older version")

    def raises(error_type, call, what):
        try:
            call()
        except error_type as error:
            expect(True, f"{what} raises {type(error).__name__}")
            return
        except Exception as error:  # noqa: BLE001 - report the wrong type
            expect(False, f"{what} raised {type(error).__name__}: {error}")
        expect(False, f"{what} raised nothing")

    raises(errors.EntryNotFoundError,
           lambda: hub.hf_hub_download(repo, "build/missing.txt", repo_type="kernel", revision="v1"),
           "a missing file")
    raises(errors.RevisionNotFoundError,
           lambda: hub.hf_hub_download(repo, "x", repo_type="kernel", revision="v7"),
           "a missing revision")
    raises(errors.RepositoryNotFoundError,
           lambda: api.list_repo_refs("kget-test/absent", repo_type="kernel"),
           "a missing repository")


def check_kernels(repo: str) -> None:
    try:
        import kernels
        from kernels import _versions, hf_hub, status
    except ImportError as error:
        print(f"SKIP kernels: not importable here ({error})")
        return
    print(f"kernels {getattr(kernels, '__version__', '?')}")
    versions = _versions._get_available_versions(repo, local_files_only=False)
    expect(sorted(versions) == [0, 1], "kernels finds versions 0 and 1 from the vN branches")
    hf_hub._check_trust_remote_code(repo, False, False)
    expect(True, "kernels trusts the org named by --trusted-org")
    try:
        hf_hub._check_trust_remote_code("untrusted-org/x", False, False)
        expect(False, "kernels refuses an untrusted org")
    except ValueError:
        expect(True, "kernels refuses an untrusted org")
    api = hf_hub._get_hf_api()
    expect(status.resolve_status(api, repo, "v1") == (repo, "v1"),
           "kernels' kernel-status.toml check sees EntryNotFound and keeps the repo")


def hf_download(repo: str, revision: str, pattern: str) -> None:
    """huggingface_hub fills a cache that kget is then pointed at."""
    import huggingface_hub as hub
    folder = hub.snapshot_download(repo, repo_type="kernel", revision=revision,
                                   allow_patterns=[pattern])
    expect(any(Path(folder).rglob("libcompat.so")),
           f"huggingface_hub downloaded {pattern} of {repo}@{revision}")


def hf_offline(repo: str, revision: str, source: Path) -> None:
    """What kget pulled, huggingface_hub finds offline, through the refs/ file kget wrote."""
    import huggingface_hub as hub
    from huggingface_hub import constants
    expect(constants.HF_HUB_OFFLINE, "HF_HUB_OFFLINE is in effect")
    for name, data in files_under(source / "build" / CPU_VARIANT).items():
        path = hub.hf_hub_download(repo, f"build/{CPU_VARIANT}/{name}", repo_type="kernel",
                                   revision=revision)
        expect(Path(path).read_bytes() == data,
               f"hf_hub_download finds {name} offline in kget's cache, byte-identical")
    info = hub.scan_cache_dir()
    expect(not info.warnings, f"scan_cache_dir sees no corruption ({info.warnings})")
    repos = [r for r in info.repos if r.repo_id == repo]
    expect(len(repos) == 1 and repos[0].repo_type == "kernel",
           "scan_cache_dir lists the kernel repository kget wrote")
    refs = {ref for r in repos for rev in r.revisions for ref in rev.refs}
    expect(revision in refs, f"scan_cache_dir sees refs/{revision}")


def main() -> None:
    if sys.argv[1] == "make-kernel":
        make_kernel(Path(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "check":
        check_huggingface_hub(Path(sys.argv[2]), sys.argv[3])
        check_kernels(sys.argv[3])
    elif sys.argv[1] == "hf-download":
        hf_download(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "hf-offline":
        hf_offline(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    else:
        sys.exit(f"unknown command {sys.argv[1]}")


if __name__ == "__main__":
    main()
