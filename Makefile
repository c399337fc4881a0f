# Thin wrapper around CMake. `make help` lists the targets.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)

.PHONY: all test asan demo bench models format fuzz clean help

all:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSG_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) -LE slow

demo: all
	bash scripts/demo

bench: all
	bash bench/run

models: all
	bash scripts/models

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'bench/*.c')

fuzz:
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSG_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz

help:
	@echo "make        build (Release, -Wall -Wextra -Werror)"
	@echo "make test   build and run the whole test suite"
	@echo "make asan   build with ASan+UBSan and run the suite"
	@echo "make demo   the main job: a demo on the embedded defaults"
	@echo "make bench  benchmarks against peers (PyTorch, cp, ...)"
	@echo "make models retrain the model family"
	@echo "make fuzz   build the libFuzzer targets (clang)"
