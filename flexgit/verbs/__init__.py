"""One module per verb, named after the command it implements; verbs never import each other."""
