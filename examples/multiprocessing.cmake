# SPDX-License-Identifier: MIT
# The multiprocessing examples: the classic guide's third program and its multiprocessing scenarios.
# Each runs as a smoke test (ctest -L example) at a high --speed or on a small input.
concur_example(3_multiprocessing LINK concur_multiprocessing SMOKE_ARGS --speed 50)
concur_example(pool_map LINK concur_multiprocessing SMOKE_ARGS --speed 50)
concur_example(crash_recovery LINK concur_multiprocessing)
concur_example(image_pool LINK concur_multiprocessing SMOKE_ARGS --images 100 --size 64)
