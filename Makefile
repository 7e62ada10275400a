# SPDX-License-Identifier: MIT
# A thin convenience over the CMake presets (CMakePresets.json); CMake is the real build.
#   make run    install missing Debian packages, build the release preset, run `concur tour`
#   make test   install missing Debian packages, build the dev preset, run every test with ctest
#   make package  build the release preset (shared libraries) and its Debian packages
#                 (libconcur0, libconcur-dev, concur-tools) in build/release/packages
#   make docs   the API reference (Doxygen) in build/release/docs/html
# Other presets: make build PRESET=asan && make check PRESET=asan (asan, tsan, clang, release).
PRESET ?= dev

.PHONY: run test deps build check package docs clean

deps:
	@scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory build PRESET=release
	./build/release/bin/concur tour

test: deps
	@$(MAKE) --no-print-directory check PRESET=dev

build:
	@test -f build/$(PRESET)/build.ninja || cmake --preset $(PRESET)
	cmake --build --preset $(PRESET)

check: build
	ctest --preset $(PRESET)

package: deps
	@$(MAKE) --no-print-directory build PRESET=release
	cd build/release && cpack -G DEB -B packages

docs: deps
	@test -f build/release/build.ninja || cmake --preset release
	cmake --build --preset release --target docs

clean:
	rm -rf build
