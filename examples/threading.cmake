# SPDX-License-Identifier: MIT
# The threading examples: the classic guide's two threading programs and its threading scenarios.
# Each runs as a smoke test (ctest -L example) at a high --speed.
concur_example(1_basic_threading LINK concur_threading SMOKE_ARGS --speed 50)
concur_example(2_lock_threading LINK concur_threading SMOKE_ARGS --speed 50)
concur_example(producer_consumer LINK concur_threading SMOKE_ARGS --speed 50)
concur_example(connection_pool LINK concur_threading SMOKE_ARGS --speed 50)
concur_example(graceful_shutdown LINK concur_threading SMOKE_ARGS --speed 50 --run-for 3)
