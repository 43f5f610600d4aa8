# cli_layering.cmake - test_cli_layering: no library includes a header of
# the command line (orchestrate/cli/). The CLI sits on top: it parses
# options, draws progress and maps PM_E* codes to exit codes; a library
# that included commands.h (or any other CLI header) would depend on it.
# And the other way round: no CLI file includes a library's internal
# header (one named *_int.h or *_internal.h, such as verify/audit_int.h
# or copyengine/worker_internal.h, or one of a platform backend's folders
# platform/linux/, win32/, sim/): a command that needs one is doing the
# library's work, which belongs behind the library's public header.
# Run as `cmake -DSRC=<source dir> -P cli_layering.cmake`; it fails
# naming each offending file and line.
cmake_minimum_required(VERSION 3.18)
if(NOT SRC)
  message(FATAL_ERROR "cli_layering.cmake: -DSRC=<source dir> is required")
endif()
file(GLOB cli_headers RELATIVE ${SRC}/orchestrate/cli
     ${SRC}/orchestrate/cli/*.h)
if(NOT cli_headers)
  message(FATAL_ERROR "no header in ${SRC}/orchestrate/cli: wrong SRC?")
endif()
file(GLOB_RECURSE lib_files
     ${SRC}/platform/*.c ${SRC}/platform/*.h
     ${SRC}/copyengine/*.c ${SRC}/copyengine/*.h
     ${SRC}/verify/*.c ${SRC}/verify/*.h
     ${SRC}/orchestrate/*.c ${SRC}/orchestrate/*.h
     ${SRC}/bench/*.c ${SRC}/bench/*.h)
# Appends to the variable named `out` a line "  <file>: <#include line>"
# for each #include of file `f` whose header's name is in the list
# `names`, or whose path matches the regex `path_re` ("" for none).
function(check_includes f names path_re out)
  set(acc "${${out}}")
  file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[\"<]([^\">]*)[\">].*"
                         "\\1" inc "${line}")
    get_filename_component(base "${inc}" NAME)
    set(hit FALSE)
    if(base IN_LIST names)
      set(hit TRUE)
    elseif(path_re AND inc MATCHES "${path_re}")
      set(hit TRUE)
    endif()
    if(hit)
      file(RELATIVE_PATH rel ${SRC} ${f})
      string(APPEND acc "  ${rel}: ${line}\n")
    endif()
  endforeach()
  set(${out} "${acc}" PARENT_SCOPE)
endfunction()

set(bad "")
set(checked 0)
foreach(f IN LISTS lib_files)
  if(f MATCHES "/orchestrate/cli/")
    continue()
  endif()
  math(EXPR checked "${checked} + 1")
  check_includes(${f} "${cli_headers}" "(^|/)cli/" bad)
endforeach()
if(bad)
  message(FATAL_ERROR "library files include a CLI header "
          "(orchestrate/cli/: ${cli_headers}):\n${bad}")
endif()
message(STATUS "${checked} library files checked; none includes a CLI "
        "header (${cli_headers})")

file(GLOB_RECURSE lib_headers
     ${SRC}/platform/*.h ${SRC}/copyengine/*.h ${SRC}/verify/*.h
     ${SRC}/orchestrate/*.h ${SRC}/bench/*.h)
set(internal "")
foreach(h IN LISTS lib_headers)
  get_filename_component(base "${h}" NAME)
  if(h MATCHES "/orchestrate/cli/")
    continue()
  endif()
  if(base MATCHES "_int(ernal)?\\.h$" OR
     h MATCHES "/platform/(linux|win32|sim)/")
    list(APPEND internal "${base}")
  endif()
endforeach()
if(NOT "audit_int.h" IN_LIST internal)
  message(FATAL_ERROR "verify/audit_int.h not found among the internal "
          "headers (${internal}): wrong SRC?")
endif()
file(GLOB cli_files ${SRC}/orchestrate/cli/*.c ${SRC}/orchestrate/cli/*.h)
set(bad "")
foreach(f IN LISTS cli_files)
  check_includes(${f} "${internal}" "" bad)
endforeach()
if(bad)
  message(FATAL_ERROR "CLI files include a library's internal header "
          "(${internal}): call the library's public API instead:\n${bad}")
endif()
list(LENGTH cli_files ncli)
message(STATUS "${ncli} CLI files checked; none includes a library's "
        "internal header")
