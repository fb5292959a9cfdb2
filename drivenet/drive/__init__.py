"""Every loop in which a model drives: rendered roads (`rendered`), real recordings (`replay`), the
Udacity simulator (`udacity`), Gymnasium's CarRacing (`gym`)."""
