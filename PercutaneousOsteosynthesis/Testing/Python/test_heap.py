"""bone.heap.reusing_freed_memory: freed large arrays are reused within the block and given back to the system after it."""

import threading

import numpy as np

from PercutaneousOsteosynthesisLib.bone import heap


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_memory_is_given_back_after_the_block():
    assert heap._glibc() is not None  # the CI runs on Linux with glibc: the block is not a no-op there
    before = _rss_mb()
    with heap.reusing_freed_memory():
        for _ in range(3):  # 400 MB touched and freed three times: the heap keeps it for the next one
            a = np.ones(100_000_000, np.float32)
            del a
        inside = _rss_mb()
    after = _rss_mb()
    assert inside > before + 300  # kept while the block runs
    assert after < before + 60  # returned on leaving it (malloc_trim)


def test_nested_and_concurrent_blocks_restore_once():
    def work():
        with heap.reusing_freed_memory():
            with heap.reusing_freed_memory():
                np.ones(10_000_000).sum()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert heap._depth == 0
