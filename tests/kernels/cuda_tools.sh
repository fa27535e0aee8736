# cuobjdump and nvdisasm for the SASS checks (check_sass.sh, check_groups_sass.sh): the CUDA 13.0
# install has no cuobjdump, so they come from PyPI's nvidia-cuda-cuobjdump and
# nvidia-cuda-nvdisasm wheels, pip-installed into the venv VENV of the build tree when missing.
# Source it, then call `use_cuda_tools VENV`: puts the tools on PATH (cuobjdump runs nvdisasm for
# -sass), or exits 77 (ctest: skipped) when pip cannot install them (no access to the package
# index).

# The wheels' bin directory in the venv, or nothing.
cuda_tools_dir() {
  local dir
  for dir in "$1"/lib/python3*/site-packages/nvidia/cu13/bin; do
    [ -d "$dir" ] && echo "$dir" && return
  done
  return 0
}

use_cuda_tools() {
  local venv=$1 bin
  bin=$(cuda_tools_dir "$venv")
  if [ -z "$bin" ] || [ ! -x "$bin/cuobjdump" ] || [ ! -x "$bin/nvdisasm" ]; then
    python3 -m venv "$venv"
    if ! timeout 300 "$venv/bin/pip" install --quiet --disable-pip-version-check \
      "nvidia-cuda-cuobjdump==13.2.*" "nvidia-cuda-nvdisasm==13.2.*"; then
      echo "SKIP: pip could not install nvidia-cuda-cuobjdump/nvidia-cuda-nvdisasm into $venv" \
        "(no access to the package index?)"
      rm -rf "$venv"
      exit 77
    fi
    bin=$(cuda_tools_dir "$venv")
  fi
  export PATH="$bin:$PATH"
  echo "cuobjdump: $(command -v cuobjdump) ($(cuobjdump --version | tail -n 1))"
}
