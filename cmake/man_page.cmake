# Script mode (cmake -P): the man page zkstandby.1.gz from the binary's own
# --help (help2man), with one subsection per subcommand and the hand-written
# parts of deploy/debian/zkstandby.h2m.
# Inputs: BINARY, HELP2MAN, INCLUDE (the .h2m file), VERSION, OUTPUT (the .1.gz), WORK_DIR.
execute_process(COMMAND ${BINARY} --help OUTPUT_VARIABLE top RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BINARY} --help failed (${rc})")
endif()

# The subcommands are the first words of the lines after "Subcommands:".
string(REGEX REPLACE ".*\nSubcommands:\n" "" listing "${top}")
string(REPLACE ";" "," listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
set(commands_section "[COMMANDS]\n")
foreach(line IN LISTS lines)
  if(NOT line MATCHES "^  +([a-z][a-z-]*)( |$)")
    continue()
  endif()
  set(command "${CMAKE_MATCH_1}")
  execute_process(COMMAND ${BINARY} ${command} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${BINARY} ${command} --help failed (${rc})")
  endif()
  # roff: backslashes doubled, and a line starting with . or ' protected.
  string(REPLACE "\\" "\\e" help "${help}")
  string(REGEX REPLACE "\n([.'])" "\n\\\\&\\1" help "${help}")
  string(APPEND commands_section ".SS \"zkstandby ${command}\"\n.nf\n${help}.fi\n")
endforeach()

file(READ ${INCLUDE} static_parts)
file(WRITE ${WORK_DIR}/zkstandby.h2m "${commands_section}\n${static_parts}")
execute_process(
  COMMAND ${HELP2MAN} --no-info --section=1 --version-string=${VERSION}
          "--name=keep a standby ZooKeeper in step with the primary's, mapping cluster references"
          --include=${WORK_DIR}/zkstandby.h2m --output=${WORK_DIR}/zkstandby.1 ${BINARY}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed (${rc})")
endif()
# -n: no name or time stamp in the gzip header, so the file is reproducible.
execute_process(COMMAND gzip -9nf ${WORK_DIR}/zkstandby.1 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip failed (${rc})")
endif()
file(RENAME ${WORK_DIR}/zkstandby.1.gz ${OUTPUT})
