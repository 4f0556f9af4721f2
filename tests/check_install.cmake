# ctest install_tree: `cmake --install` into a fresh prefix, then checks the tree and runs
# the installed vitscope-cli on an installed sample from another folder (it must find the
# bundled model under PREFIX/share/vitscope, not in the source tree).
#   cmake -DBUILD_DIR=... -DPREFIX=... -DAPP=ON|OFF -P check_install.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
set(expected
    bin/vitscope-cli
    share/vitscope/assets/models/fashion-vit/model.safetensors
    share/vitscope/assets/models/fashion-vit/config.json
    share/vitscope/assets/labels/imagenet1k.txt
    share/vitscope/assets/labels/imagenet1k_synsets.txt)
if(APP)
  list(APPEND expected bin/vitscope share/applications/vitscope.desktop
       share/icons/hicolor/scalable/apps/vitscope.svg share/icons/hicolor/128x128/apps/vitscope.png)
endif()
foreach(f IN LISTS expected)
  if(NOT EXISTS "${PREFIX}/${f}")
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
file(GLOB samples "${PREFIX}/share/vitscope/assets/samples/*.png")
list(LENGTH samples n)
if(n EQUAL 0)
  message(FATAL_ERROR "no samples under ${PREFIX}/share/vitscope/assets/samples")
endif()
if(EXISTS "${PREFIX}/share/vitscope/assets/screenshots")
  message(FATAL_ERROR "the README's screenshots were installed")
endif()
if(APP)
  file(STRINGS "${PREFIX}/share/applications/vitscope.desktop" exec REGEX "^Exec=")
  if(NOT exec STREQUAL "Exec=vitscope %f")
    message(FATAL_ERROR "desktop entry: '${exec}', expected 'Exec=vitscope %f'")
  endif()
endif()
list(GET samples 0 sample)
file(MAKE_DIRECTORY "${PREFIX}/elsewhere")
execute_process(COMMAND "${PREFIX}/bin/vitscope-cli" classify --image "${sample}" --json
                WORKING_DIRECTORY "${PREFIX}/elsewhere" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "installed vitscope-cli classify failed (${rc}): ${err}")
endif()
string(JSON model_path GET "${out}" model path)
string(FIND "${model_path}" "${PREFIX}/share/vitscope/assets/models/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "installed vitscope-cli used ${model_path}, not the installed model")
endif()
string(JSON top_label GET "${out}" top 0 label)
message(STATUS "installed vitscope-cli: ${sample} -> ${top_label} (model ${model_path})")
file(REMOVE_RECURSE "${PREFIX}")
