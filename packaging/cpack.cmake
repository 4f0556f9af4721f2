# CPack: a Debian package of what `cmake --install` installs, under /usr. Its Depends are
# the packages of the shared libraries the binaries link (dpkg-shlibdeps: libvulkan1,
# zlib1g, libglfw3, libx11-6, libstb0, libstdc++6, ...) plus a Vulkan driver: Mesa's
# (lavapipe runs on any CPU) or any other that provides vulkan-icd.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "vitscope")
set(CPACK_PACKAGE_VENDOR "vitscope")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Vision Transformer inference in Vulkan compute shaders, with an attention viewer")
set(CPACK_PACKAGE_DESCRIPTION
    "vitscope runs Vision Transformer checkpoints (timm, Hugging Face, torchvision safetensors) as GLSL compute shaders on any Vulkan device.\n The desktop app shows the predictions and per-layer, per-head attention maps; vitscope-cli classifies, evaluates datasets and benchmarks.")
set(CPACK_PACKAGE_CONTACT "vitscope maintainers <vitscope@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "graphics")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "mesa-vulkan-drivers | vulkan-icd")
set(CPACK_STRIP_FILES ON)
include(CPack)
